-- A provider's payment is credited once per account: every purchase claims
-- ('payment', '<account id>/<payment reference>'). Purchases recorded before the claim existed
-- claim their reference here, the first purchase of a reference keeping it, so a later
-- purchase of a reference credited before this migration is refused or answered like the first.
INSERT INTO unique_claims (scope, value, position)
SELECT 'payment',
       (payload::jsonb ->> 'account_id') || '/' || (payload::jsonb ->> 'payment_reference'),
       min(position)
FROM events
WHERE event_type = 'account.credits_purchased'
GROUP BY 2
ON CONFLICT (scope, value) DO NOTHING;

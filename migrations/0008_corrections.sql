-- Money corrections (support adjustments, transfer reversals, purchase refunds).
--
-- account_balances: adjustments have their own running total (credits less debits, may be
-- negative); refunds and reversals net out of `purchased` and `transferred_in/out`.
ALTER TABLE account_balances ADD COLUMN adjusted numeric NOT NULL DEFAULT 0;
ALTER TABLE account_balances DROP CONSTRAINT account_balances_check;
ALTER TABLE account_balances ADD CONSTRAINT account_balances_totals
    CHECK (balance = purchased + transferred_in - transferred_out - used + adjusted);

-- ledger_entries: the payment provider's reference (purchases, refunds) and the support ticket
-- (transfers, reversals, adjustments) on each entry of the movement, so the system books show
-- what each entry answers to. Entries projected before these columns existed get theirs from
-- the events that booked them, as a rebuild would.
ALTER TABLE ledger_entries ADD COLUMN payment_reference text, ADD COLUMN ticket text;
UPDATE ledger_entries l
SET payment_reference = e.payload::jsonb ->> 'payment_reference'
FROM events e
WHERE e.position = l.position AND e.event_type = 'account.credits_purchased';
UPDATE ledger_entries l
SET ticket = e.payload::jsonb ->> 'ticket'
FROM events e
WHERE e.position = l.position
  AND e.event_type IN ('account.transferred_out', 'account.transferred_in');

-- A purchase's entries by its payment reference (receipts, refunds).
CREATE INDEX ledger_entries_payment ON ledger_entries (account, payment_reference)
    WHERE payment_reference IS NOT NULL;

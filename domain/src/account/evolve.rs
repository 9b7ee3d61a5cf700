//! Folding account events into state, with invariant assertions (programmer errors only).

use super::{
    Account, AccountEvent, AccountOpened, AccountState, Key, KeyStatus, OpenHold, Totals, Usage,
};
use crate::period::KeySpend;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

impl AccountState {
    /// Folds one event. Panics on events that could not have been decided (programmer error).
    pub fn evolve(&mut self, event: &AccountEvent) {
        if let AccountEvent::Opened(e) = event {
            assert!(self.account.is_none(), "account opened twice");
            self.account = Some(Account::opened(e));
        } else {
            let account = self
                .account
                .as_mut()
                .expect("event on an account that is not open");
            assert_eq!(account.id, event.account_id(), "event of another account");
            account.apply(event);
        }
        self.version += 1;
        if let Some(account) = &self.account {
            account.check_invariants();
        }
    }

    /// Folds events into a fresh state.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a AccountEvent>) -> Self {
        crate::event::fold(events, Self::evolve)
    }
}

impl Account {
    fn opened(e: &AccountOpened) -> Self {
        Account {
            id: e.account_id,
            owner: e.owner,
            balance: Decimal::ZERO,
            totals: Totals::default(),
            held: Decimal::ZERO,
            holds: BTreeMap::new(),
            keys: BTreeMap::new(),
            live_keys: 0,
            spending: super::Spending::default(),
            purchases: BTreeMap::new(),
            transfers_in: BTreeMap::new(),
        }
    }

    fn key_mut(&mut self, key_id: &super::KeyId) -> &mut Key {
        self.keys.get_mut(key_id).expect("event on an unknown key")
    }

    fn close_hold(&mut self, hold_id: &super::HoldId) -> OpenHold {
        let hold = self
            .holds
            .remove(hold_id)
            .expect("closing a hold that is not open");
        self.held -= hold.amount;
        let key = self.key_mut(&hold.key_id);
        key.held -= hold.amount;
        let member = key.created_by;
        self.spending.release(member, hold.amount);
        hold
    }

    fn bill(&mut self, usage: &Usage, at: DateTime<Utc>) {
        let cost = usage.cost.amount();
        self.balance -= cost;
        self.totals.used += cost;
        let key = self.key_mut(&usage.key_id);
        key.spend.add(at, cost);
        let member = key.created_by;
        self.spending.bill(member, at, cost);
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(_) => unreachable!("handled by evolve"),
            AccountEvent::CreditsPurchased(e) => {
                self.balance += e.amount.amount();
                self.totals.purchased += e.amount.amount();
                self.purchases
                    .entry(e.payment_reference.as_str().to_owned())
                    .or_insert(super::Purchase {
                        amount: e.amount,
                        refunded: false,
                    });
            }
            AccountEvent::TransferredOut(e) => {
                self.balance -= e.amount.amount();
                self.totals.transferred_out += e.amount.amount();
            }
            AccountEvent::TransferredIn(e) => {
                self.balance += e.amount.amount();
                self.totals.transferred_in += e.amount.amount();
                // Transfer ids are chosen by support and not claimed unique: a reused id keeps
                // the first transfer, the one a reversal under that id gives back.
                self.transfers_in
                    .entry(e.transfer_id)
                    .or_insert(super::ReceivedTransfer {
                        from: e.from_account_id,
                        amount: e.amount,
                        reversed: false,
                    });
            }
            AccountEvent::KeyCreated(e) => {
                let key = Key {
                    created_by: e.created_by,
                    status: KeyStatus::Active,
                    limit: e.limit,
                    expires_at: e.expires_at,
                    spend: KeySpend::default(),
                    held: Decimal::ZERO,
                    secret_generation: 0,
                    previous_secret_until: None,
                };
                assert!(
                    self.keys.insert(e.key_id, key).is_none(),
                    "key created twice"
                );
                self.live_keys += 1;
            }
            AccountEvent::KeyRenamed(e) => {
                assert!(self.keys.contains_key(&e.key_id), "renaming an unknown key");
            }
            AccountEvent::KeyLimitChanged(e) => self.key_mut(&e.key_id).limit = e.limit,
            AccountEvent::KeyDisabled(e) => self.key_mut(&e.key_id).status = KeyStatus::Disabled,
            AccountEvent::KeyEnabled(e) => self.key_mut(&e.key_id).status = KeyStatus::Active,
            AccountEvent::KeyDeleted(e) => {
                let key = self.key_mut(&e.key_id);
                assert_ne!(key.status, KeyStatus::Deleted, "key deleted twice");
                key.status = KeyStatus::Deleted;
                self.live_keys -= 1;
            }
            AccountEvent::HoldPlaced(e) => {
                let amount = e.estimate.amount();
                let hold = OpenHold {
                    key_id: e.key_id,
                    amount,
                    expires_at: e.expires_at,
                };
                assert!(
                    self.holds.insert(e.hold_id, hold).is_none(),
                    "hold placed twice"
                );
                self.held += amount;
                let key = self.key_mut(&e.key_id);
                key.held += amount;
                let member = key.created_by;
                self.spending.hold(member, amount);
            }
            AccountEvent::HoldSettled(e) => {
                let hold = self.close_hold(&e.hold_id);
                assert_eq!(hold.key_id, e.usage.key_id, "settled with another key");
                self.bill(&e.usage, e.at);
            }
            AccountEvent::HoldVoided(e) | AccountEvent::HoldExpired(e) => {
                self.close_hold(&e.hold_id);
            }
            AccountEvent::UsageRecorded(e) => self.bill(&e.usage, e.at),
            AccountEvent::BudgetSet(_)
            | AccountEvent::MemberSpendCapSet(_)
            | AccountEvent::DefaultKeyLimitSet(_)
            | AccountEvent::BudgetThresholdReached(_)
            | AccountEvent::LowBalanceThresholdSet(_) => self.spending.apply(event),
            AccountEvent::KeyRotated(e) => {
                let key = self.key_mut(&e.key_id);
                assert_eq!(
                    e.generation,
                    key.secret_generation + 1,
                    "secret generations increase by one"
                );
                key.secret_generation = e.generation;
                key.previous_secret_until = Some(e.previous_valid_until);
            }
            AccountEvent::KeyExpiryChanged(e) => self.key_mut(&e.key_id).expires_at = e.expires_at,
            AccountEvent::CreditsAdjusted(e) => {
                let amount = match e.direction {
                    super::AdjustmentDirection::Credit => e.amount.amount(),
                    super::AdjustmentDirection::Debit => -e.amount.amount(),
                };
                self.balance += amount;
                self.totals.adjusted += amount;
            }
            AccountEvent::TransferReversedOut(e) => {
                let transfer = self
                    .transfers_in
                    .get_mut(&e.transfer_id)
                    .expect("reversing a transfer never received");
                assert!(!transfer.reversed, "transfer reversed twice");
                assert_eq!(transfer.amount, e.amount, "reversal of another amount");
                transfer.reversed = true;
                self.balance -= e.amount.amount();
                self.totals.transferred_in -= e.amount.amount();
            }
            AccountEvent::TransferReversedIn(e) => {
                self.balance += e.amount.amount();
                self.totals.transferred_out -= e.amount.amount();
            }
            AccountEvent::PurchaseRefunded(e) => {
                let purchase = self
                    .purchases
                    .get_mut(e.payment_reference.as_str())
                    .expect("refunding a purchase never made");
                assert!(!purchase.refunded, "purchase refunded twice");
                purchase.refunded = true;
                self.balance -= e.amount.amount();
                self.totals.purchased -= e.amount.amount();
            }
        }
    }

    fn check_invariants(&self) {
        let t = &self.totals;
        assert_eq!(
            self.balance,
            t.purchased + t.transferred_in - t.transferred_out - t.used + t.adjusted,
            "balance differs from its totals"
        );
        assert!(self.held >= Decimal::ZERO, "negative held total");
        self.spending.check_invariants(self.held);
        assert!(
            self.holds.len() <= super::MAX_OPEN_HOLDS,
            "too many open holds"
        );
        debug_assert_eq!(
            self.held,
            self.holds.values().map(|h| h.amount).sum::<Decimal>(),
            "held total differs from open holds"
        );
        debug_assert_eq!(
            self.live_keys,
            self.keys
                .values()
                .filter(|k| k.status != KeyStatus::Deleted)
                .count(),
            "live key count differs"
        );
    }
}

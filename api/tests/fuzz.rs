//! Fuzzing of the API's input handling: every request message of the proto decoded from
//! arbitrary bytes and, where it decodes, put through the API's own validation (`input.rs`,
//! the domain's constructors, the error mapping of `status.rs`). Nothing may panic.
//!
//! CI runs a few thousand inputs; `LEDGER_FUZZ_CASES=1000000` runs a million (see
//! `docs/reliability.md`, "Fuzzing").

#![allow(clippy::unwrap_used)] // A failed step fails the test.

use ledger_api::error::AppError;
use ledger_api::services::analytics::Analytics;
use ledger_api::{input, pb};
use ledger_domain::text::{
    CompanyName, KeyName, OrganizationDetails, OrganizationName, PaymentMethodReference,
    PaymentReference, PostalAddress, TaxId, TicketReference, TransferReason,
};
use ledger_domain::{Credits, DomainError, Email};
use proptest::prelude::*;
use prost::Message;
use tonic::Status;

/// Inputs per run: `LEDGER_FUZZ_CASES`, else a CI-sized default.
fn cases() -> u32 {
    std::env::var("LEDGER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4096)
}

/// Maps an error to the status a caller would get, as the services do.
fn answer<T>(result: Result<T, AppError>) {
    if let Err(error) = result {
        let status = Status::from(error);
        assert!(!status.message().is_empty());
    }
}

fn domain<T>(result: Result<T, DomainError>) {
    answer(result.map_err(AppError::from));
}

fn ids(fields: &[(&str, &str)]) {
    for (field, text) in fields {
        answer(input::uuid(field, text));
    }
}

fn page(page_size: i32, page_token: &str) {
    if let Ok((offset, size)) = input::page(page_size, page_token) {
        assert!((1..=input::MAX_PAGE_SIZE).contains(&size));
        assert!(offset <= input::MAX_PAGE_OFFSET);
        let _ = input::next_token(offset, size, usize::MAX);
    }
}

fn time(field: &str, ts: Option<&prost_types::Timestamp>) {
    if let Some(ts) = ts
        && let Ok(at) = input::time(field, ts)
    {
        assert_eq!(input::time(field, &input::timestamp(at)).unwrap(), at);
    }
}

fn usage(field: &str, report: Option<&pb::UsageReport>) {
    answer(input::usage(field, report));
}

fn amount(make: fn(&str) -> Result<Credits, DomainError>, text: &str) {
    if let Ok(credits) = make(text) {
        // A valid amount prints back to an amount that parses to the same value.
        assert_eq!(make(&credits.amount().to_string()).unwrap(), credits);
    } else {
        domain(make(text));
    }
}

fn filter(filter: Option<&pb::ActivityFilter>) {
    if let Some(f) = filter {
        for id in [&f.key_id, &f.user_id].into_iter().flatten() {
            answer(input::uuid("filter", id));
        }
        time("filter.from", f.from.as_ref());
        time("filter.to", f.to.as_ref());
    }
}

fn settle(m: &pb::SettleHoldRequest) {
    ids(&[
        ("command_id", &m.command_id),
        ("account_id", &m.account_id),
        ("hold_id", &m.hold_id),
    ]);
    usage("usage", m.usage.as_ref());
}

fn record(m: &pb::RecordUsageRequest) {
    ids(&[
        ("command_id", &m.command_id),
        ("account_id", &m.account_id),
        ("key_id", &m.key_id),
    ]);
    usage("usage", m.usage.as_ref());
}

/// Lists every request message with the validation its service applies to it, and generates
/// `check(index, bytes)`: decode message `index` from `bytes` and, if it decodes, validate it
/// and check that it survives an encode/decode round trip. Returns whether it decoded.
macro_rules! requests {
    ($($message:ident => $check:expr,)*) => {
        /// Every request message type of `arouter.ledger.v1`.
        const REQUESTS: &[&str] = &[$(stringify!($message)),*];

        fn check(index: usize, bytes: &[u8]) -> bool {
            let mut n = 0;
            $(
                if index == n {
                    let Ok(message) = pb::$message::decode(bytes) else { return false };
                    let validate: fn(&pb::$message) = $check;
                    validate(&message);
                    let again = pb::$message::decode(message.encode_to_vec().as_slice()).unwrap();
                    assert_eq!(again, message);
                    return true;
                }
                n += 1;
            )*
            panic!("no request message number {index} of {n}")
        }
    };
}

requests! {
    // Activity.
    ListActivityRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        page(m.page_size, &m.page_token);
        filter(m.filter.as_ref());
    },
    GetUsageAnalyticsRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        page(m.page_size, &m.page_token);
        time("from", m.from.as_ref());
        time("to", m.to.as_ref());
        answer(Analytics::parse(m.granularity, m.group_by, m.from.as_ref(), m.to.as_ref()));
    },
    ExportActivityRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        filter(m.filter.as_ref());
    },
    ExportAnalyticsRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        time("from", m.from.as_ref());
        time("to", m.to.as_ref());
        answer(Analytics::parse(m.granularity, m.group_by, m.from.as_ref(), m.to.as_ref()));
    },
    // Audit.
    StreamEventsRequest => |_| {},
    VerifyChainRequest => |_| {},
    GetHeadRequest => |_| {},
    VerifyCheckpointRequest => |_| {},
    BalanceAsOfRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        if let Some(pb::balance_as_of_request::AsOf::Time(ts)) = &m.as_of {
            time("time", Some(ts));
        }
    },
    ConsistencyCheckRequest => |_| {},
    GetProjectionStatusRequest => |_| {},
    // Credits.
    PurchaseCreditsRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id)]);
        amount(|t| Credits::purchase(t), &m.amount);
        domain(PaymentReference::parse(&m.payment_reference));
    },
    GetAccountBalanceRequest => |m| ids(&[("account_id", &m.account_id)]),
    ListLedgerEntriesRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        page(m.page_size, &m.page_token);
        time("from", m.from.as_ref());
        time("to", m.to.as_ref());
    },
    // Gateway.
    AuthenticateKeyRequest => |_| {},
    PlaceHoldRequest => |m| {
        ids(&[
            ("command_id", &m.command_id),
            ("account_id", &m.account_id),
            ("key_id", &m.key_id),
            ("hold_id", &m.hold_id),
        ]);
        amount(|t| Credits::hold_estimate(t), &m.estimate);
    },
    SettleHoldRequest => settle,
    VoidHoldRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("account_id", &m.account_id),
        ("hold_id", &m.hold_id),
    ]),
    RecordUsageRequest => record,
    SettleBatchRequest => |m| m.items.iter().for_each(settle),
    RecordUsageBatchRequest => |m| m.items.iter().for_each(record),
    // Keys.
    CreateKeyRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id), ("key_id", &m.key_id)]);
        domain(KeyName::parse(&m.name));
        answer(input::key_limit("limit", m.limit.as_ref()));
        time("expires_at", m.expires_at.as_ref());
    },
    RenameKeyRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id), ("key_id", &m.key_id)]);
        domain(KeyName::parse(&m.name));
    },
    ChangeKeyLimitRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id), ("key_id", &m.key_id)]);
        answer(input::key_limit("limit", m.limit.as_ref()));
    },
    KeyCommandRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("account_id", &m.account_id),
        ("key_id", &m.key_id),
    ]),
    GetKeyRequest => |m| ids(&[("account_id", &m.account_id), ("key_id", &m.key_id)]),
    ListKeysRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        page(m.page_size, &m.page_token);
    },
    // Organizations.
    CreateOrganizationRequest => |m| {
        ids(&[("command_id", &m.command_id), ("organization_id", &m.organization_id)]);
        domain(OrganizationName::parse(&m.name));
        if let Some(details) = &m.details {
            domain(OrganizationDetails::parse(details));
        }
    },
    RenameOrganizationRequest => |m| {
        ids(&[("command_id", &m.command_id), ("organization_id", &m.organization_id)]);
        domain(OrganizationName::parse(&m.name));
    },
    UpdateOrganizationDetailsRequest => |m| {
        ids(&[("command_id", &m.command_id), ("organization_id", &m.organization_id)]);
        if let Some(details) = &m.details {
            domain(OrganizationDetails::parse(details));
        }
    },
    InviteMemberRequest => |m| {
        ids(&[
            ("command_id", &m.command_id),
            ("organization_id", &m.organization_id),
            ("invitation_id", &m.invitation_id),
        ]);
        domain(Email::parse(&m.email));
        answer(input::role("role", m.role));
    },
    RevokeInvitationRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("organization_id", &m.organization_id),
        ("invitation_id", &m.invitation_id),
    ]),
    AcceptInvitationRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("organization_id", &m.organization_id),
        ("invitation_id", &m.invitation_id),
    ]),
    RemoveMemberRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("organization_id", &m.organization_id),
        ("user_id", &m.user_id),
    ]),
    ChangeMemberRoleRequest => |m| {
        ids(&[
            ("command_id", &m.command_id),
            ("organization_id", &m.organization_id),
            ("user_id", &m.user_id),
        ]);
        answer(input::role("role", m.role));
    },
    LeaveOrganizationRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("organization_id", &m.organization_id),
    ]),
    GetOrganizationRequest => |m| ids(&[("organization_id", &m.organization_id)]),
    ListMembersRequest => |m| {
        ids(&[("organization_id", &m.organization_id)]);
        page(m.page_size, &m.page_token);
    },
    ListInvitationsRequest => |m| {
        ids(&[("organization_id", &m.organization_id)]);
        page(m.page_size, &m.page_token);
    },
    // Settings.
    SetPrivacySettingsRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("organization_id", &m.organization_id),
    ]),
    GetPrivacySettingsRequest => |m| ids(&[("organization_id", &m.organization_id)]),
    SetBillingSettingsRequest => |m| {
        ids(&[("command_id", &m.command_id), ("organization_id", &m.organization_id)]);
        if let Some(s) = &m.settings {
            s.contacts.iter().for_each(|c| domain(Email::parse(c)));
            if let Some(name) = &s.company_name {
                domain(CompanyName::parse(name));
            }
            if let Some(tax_id) = &s.tax_id {
                domain(TaxId::parse(tax_id));
            }
            if let Some(address) = &s.postal_address {
                domain(PostalAddress::parse(address));
            }
            if let Some(reference) = &s.payment_method_reference {
                domain(PaymentMethodReference::parse(reference));
            }
        }
    },
    GetBillingSettingsRequest => |m| ids(&[("organization_id", &m.organization_id)]),
    SetOrganizationBudgetRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id)]);
        answer(input::key_limit("budget", m.budget.as_ref()));
    },
    SetMemberSpendCapRequest => |m| {
        ids(&[
            ("command_id", &m.command_id),
            ("account_id", &m.account_id),
            ("user_id", &m.user_id),
        ]);
        answer(input::key_limit("cap", m.cap.as_ref()));
    },
    SetDefaultKeyLimitRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id)]);
        answer(input::key_limit("limit", m.limit.as_ref()));
    },
    GetSpendingControlsRequest => |m| ids(&[("account_id", &m.account_id)]),
    // Support.
    TransferCreditsRequest => |m| {
        ids(&[
            ("command_id", &m.command_id),
            ("from_account_id", &m.from_account_id),
            ("to_account_id", &m.to_account_id),
        ]);
        amount(|t| Credits::transfer(t), &m.amount);
        domain(TransferReason::parse(&m.reason));
        domain(TicketReference::parse(&m.ticket));
    },
    SetMemberLimitRequest => |m| ids(&[
        ("command_id", &m.command_id),
        ("organization_id", &m.organization_id),
    ]),
    // Users.
    RegisterUserRequest => |m| {
        ids(&[("command_id", &m.command_id), ("user_id", &m.user_id)]);
        domain(Email::parse(&m.email));
    },
    VerifyEmailRequest => |m| {
        ids(&[("command_id", &m.command_id), ("user_id", &m.user_id)]);
        domain(Email::parse(&m.email));
    },
    EraseUserRequest => |m| ids(&[("user_id", &m.user_id)]),
    GetUserAccountRequest => |m| ids(&[("user_id", &m.user_id)]),
    ListUserOrganizationsRequest => |m| {
        ids(&[("user_id", &m.user_id)]);
        page(m.page_size, &m.page_token);
    },
    // Key rotation and expiry, the invitee's invitations.
    RotateKeyRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id), ("key_id", &m.key_id)]);
    },
    ChangeKeyExpiryRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id), ("key_id", &m.key_id)]);
        time("expires_at", m.expires_at.as_ref());
    },
    ListUserInvitationsRequest => |m| {
        ids(&[("user_id", &m.user_id)]);
        page(m.page_size, &m.page_token);
    },
    // Money corrections, receipts, the system books.
    AdjustCreditsRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id)]);
        amount(|t| Credits::transfer(t), &m.amount);
        domain(TransferReason::parse(&m.reason));
        domain(TicketReference::parse(&m.ticket));
    },
    ReverseTransferRequest => |m| {
        ids(&[
            ("command_id", &m.command_id),
            ("transfer_id", &m.transfer_id),
            ("account_id", &m.account_id),
        ]);
        domain(TransferReason::parse(&m.reason));
        domain(TicketReference::parse(&m.ticket));
    },
    RefundPurchaseRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id)]);
        domain(PaymentReference::parse(&m.payment_reference));
    },
    GetPurchaseReceiptRequest => |m| {
        ids(&[("account_id", &m.account_id)]);
        domain(PaymentReference::parse(&m.payment_reference));
    },
    ListBookEntriesRequest => |m| page(m.page_size, &m.page_token),
    // Notifications and the low-balance threshold.
    SetLowBalanceThresholdRequest => |m| {
        ids(&[("command_id", &m.command_id), ("account_id", &m.account_id)]);
        if let Some(threshold) = &m.threshold {
            amount(|t| Credits::purchase(t), threshold);
        }
    },
    SubscribeRequest => |m| answer(input::outbox_cursor("after", m.after.as_ref())),
}

/// Text that is often almost valid: UUID-, decimal-, email- and timestamp-like fragments,
/// control characters and long runs, besides arbitrary Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-f-]{0,40}",
        // Page tokens past any listing, up to and beyond usize::MAX.
        "[0-9]{9,21}",
        "-?[0-9]{0,12}(\\.[0-9]{0,14})?(e[0-9]{1,3})?",
        "[a-zA-Z0-9.+_\\-]{0,20}@[a-zA-Z0-9.\\-]{0,20}",
        "[ \\t\\n\\r\\x00-\\x1f\\u{202e}a-z]{0,8}",
        proptest::collection::vec(any::<char>(), 0..2000).prop_map(|c| c.into_iter().collect()),
    ]
}

/// One protobuf field with a number and a wire type a request might use, and any content.
#[derive(Debug, Clone)]
enum Field {
    Varint(u32, u64),
    Bytes(u32, Vec<u8>),
    Text(u32, String),
    /// A nested message (usage reports, limits, filters, timestamps, batch items).
    Nested(u32, Vec<Field>),
    Fixed32(u32, u32),
    Fixed64(u32, u64),
}

fn edge_seconds() -> impl Strategy<Value = i64> {
    prop_oneof![
        -8_334_632_851_200_i64..-8_334_601_228_800,
        -62_135_596_900_i64..-62_135_500_000,
        253_402_200_000_i64..253_402_400_000,
        8_210_266_790_400_i64..8_210_266_876_800,
    ]
}

fn field() -> impl Strategy<Value = Field> {
    let number = 1_u32..12;
    let leaf = prop_oneof![
        (number.clone(), any::<u64>()).prop_map(|(n, v)| Field::Varint(n, v)),
        (number.clone(), any::<i64>()).prop_map(|(n, v)| Field::Varint(n, v as u64)),
        // Timestamp seconds at the edges: chrono's range, years 1 and 9999.
        (number.clone(), edge_seconds()).prop_map(|(n, v)| Field::Varint(n, v as u64)),
        (
            number.clone(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(n, b)| Field::Bytes(n, b)),
        (number.clone(), text()).prop_map(|(n, t)| Field::Text(n, t)),
        (number.clone(), any::<u32>()).prop_map(|(n, v)| Field::Fixed32(n, v)),
        (number.clone(), any::<u64>()).prop_map(|(n, v)| Field::Fixed64(n, v)),
    ];
    leaf.prop_recursive(3, 48, 8, move |inner| {
        (1_u32..12, proptest::collection::vec(inner, 0..8)).prop_map(|(n, f)| Field::Nested(n, f))
    })
}

fn encode(fields: &[Field], out: &mut Vec<u8>) {
    use prost::encoding::{WireType, encode_key, encode_varint};
    for field in fields {
        match field {
            Field::Varint(n, v) => {
                encode_key(*n, WireType::Varint, out);
                encode_varint(*v, out);
            }
            Field::Bytes(n, b) => {
                encode_key(*n, WireType::LengthDelimited, out);
                encode_varint(b.len() as u64, out);
                out.extend_from_slice(b);
            }
            Field::Text(n, t) => {
                encode_key(*n, WireType::LengthDelimited, out);
                encode_varint(t.len() as u64, out);
                out.extend_from_slice(t.as_bytes());
            }
            Field::Nested(n, inner) => {
                let mut body = Vec::new();
                encode(inner, &mut body);
                encode_key(*n, WireType::LengthDelimited, out);
                encode_varint(body.len() as u64, out);
                out.extend_from_slice(&body);
            }
            Field::Fixed32(n, v) => {
                encode_key(*n, WireType::ThirtyTwoBit, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Field::Fixed64(n, v) => {
                encode_key(*n, WireType::SixtyFourBit, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// Bytes to decode: raw noise, or well-formed fields (most of which decode), possibly cut short.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..512),
        4 => (proptest::collection::vec(field(), 0..12), any::<u16>()).prop_map(|(fields, cut)| {
            let mut out = Vec::new();
            encode(&fields, &mut out);
            if cut % 8 == 0 && !out.is_empty() {
                out.truncate(usize::from(cut) % out.len());
            }
            out
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_request_message_decodes_from_any_bytes_and_validates_without_panicking(
        index in 0..REQUESTS.len(),
        bytes in bytes(),
    ) {
        check(index, &bytes);
    }
}

/// The generator is worth its time: well-formed fields decode into every message type.
#[test]
fn the_generated_inputs_decode_into_every_request_message() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut decoded = vec![0_u32; REQUESTS.len()];
    for _ in 0..50 {
        for (index, count) in decoded.iter_mut().enumerate() {
            let input = bytes().new_tree(&mut runner).unwrap().current();
            if check(index, &input) {
                *count += 1;
            }
        }
    }
    for (name, count) in REQUESTS.iter().zip(&decoded) {
        assert!(*count > 0, "no generated input decoded as {name}");
    }
    assert_eq!(
        REQUESTS.len(),
        64,
        "a new request message needs a line in requests!"
    );
}

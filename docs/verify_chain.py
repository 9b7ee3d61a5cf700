#!/usr/bin/env python3
"""Recompute the ARouter Ledger hash chain from the events table, independently of ledgerd.

Usage:
  psql "$DATABASE_URL" --csv -c "SELECT position, event_id, stream_id, stream_version,
      event_type, schema_version, payload, metadata,
      to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS recorded_at,
      encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash
      FROM events ORDER BY position" | python3 docs/verify_chain.py

Prints the head (position, hash) when the chain holds, else the first bad position; exits 1 then.
"""
import csv
import hashlib
import sys

TAG = "arouter-ledger-event-v1"
FIELDS = ["position", "event_id", "stream_id", "stream_version", "event_type",
          "schema_version", "recorded_at", "payload", "metadata"]


def canonical_bytes(row):
    out = bytearray()
    for value in [TAG] + [row[name] for name in FIELDS]:
        data = value.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def main():
    csv.field_size_limit(1 << 24)
    prev = bytes(32)
    position = 0
    for row in csv.DictReader(sys.stdin):
        position += 1
        if int(row["position"]) != position:
            print(f"break at {position}: missing")
            return 1
        if bytes.fromhex(row["prev_hash"]) != prev:
            print(f"break at {position}: previous hash does not match")
            return 1
        digest = hashlib.sha256(prev + canonical_bytes(row)).digest()
        if digest.hex() != row["hash"]:
            print(f"break at {position}: hash does not match")
            return 1
        prev = digest
    print(f"intact: head position {position}, hash {prev.hex()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

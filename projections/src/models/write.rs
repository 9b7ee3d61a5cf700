//! Writing a batch's rows back: update the rows that exist, insert the others.

/// The statement that writes `input` (a `SELECT` whose columns are named as `table`'s
/// `columns`) to `table`: a row whose `key` columns match one in the table is updated with
/// `set` (which may read the old row as `t` and the new one as `input`), the others are
/// inserted.
///
/// Why not `INSERT ... ON CONFLICT DO UPDATE`: it locks each existing row before updating it,
/// two WAL records per row where a plain `UPDATE` writes one. Only the projection's runner
/// writes its tables (it holds its checkpoint's row lock), so no other writer inserts a key
/// between the two parts.
pub(crate) fn update_else_insert(
    table: &str,
    input: &str,
    columns: &str,
    key: &[&str],
    set: &str,
) -> String {
    let matches = |a: &str, b: &str| {
        key.iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let returned = key
        .iter()
        .map(|k| format!("t.{k}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH input AS ({input}), \
         updated AS (UPDATE {table} AS t SET {set} FROM input WHERE {} RETURNING {returned}) \
         INSERT INTO {table} ({columns}) SELECT {columns} FROM input \
         WHERE NOT EXISTS (SELECT 1 FROM updated WHERE {})",
        matches("t", "input"),
        matches("updated", "input"),
    )
}

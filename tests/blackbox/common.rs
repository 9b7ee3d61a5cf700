//! What the API tests share beside the client: decimal amounts as integers.

/// A decimal string as an integer number of 10⁻¹⁰ units (enough for costs).
pub fn units(text: &str) -> i128 {
    let negative = text.starts_with('-');
    let text = text.trim_start_matches('-');
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fraction = format!("{fraction:0<10}");
    let value =
        whole.parse::<i128>().unwrap() * 10_i128.pow(10) + fraction.parse::<i128>().unwrap();
    if negative { -value } else { value }
}

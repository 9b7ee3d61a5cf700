//! A small PDF writer for export reports: text only, in the standard Courier font (so columns
//! line up without embedding a font), on A4 pages with a title and page numbers.
//!
//! Text is limited to printable ASCII, the only range whose glyphs every reader maps the same
//! way for a standard font without an encoding table: anything else is written as `?`.

use std::fmt::Write as _;

/// A4 in points.
const PAGE_WIDTH: u32 = 595;
const PAGE_HEIGHT: u32 = 842;
const MARGIN: u32 = 40;
const FONT_SIZE: u32 = 8;
const LEADING: u32 = 10;
/// Courier glyphs are 0.6 em wide: 515 pt of line at 8 pt is 107 characters.
pub const LINE_CHARS: usize = 107;
/// Body lines per page, below the title line and a blank one.
const LINES_PER_PAGE: usize = ((PAGE_HEIGHT - 2 * MARGIN) / LEADING) as usize - 2;

/// A PDF document showing `title` at the top of every page and `lines` below it, paginated.
/// Longer lines are cut at [`LINE_CHARS`].
pub fn document(title: &str, lines: &[String]) -> Vec<u8> {
    let pages: Vec<&[String]> = if lines.is_empty() {
        vec![&[]]
    } else {
        lines.chunks(LINES_PER_PAGE).collect()
    };
    let page_count = pages.len();
    // Objects: 1 catalog, 2 page tree, 3 font, then a page and its content stream per page.
    let mut objects: Vec<Vec<u8>> = Vec::with_capacity(3 + 2 * page_count);
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..page_count)
        .map(|page| format!("{} 0 R", 4 + 2 * page))
        .collect();
    objects.push(
        format!(
            "<< /Type /Pages /Kids [{}] /Count {page_count} >>",
            kids.join(" ")
        )
        .into_bytes(),
    );
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>".to_vec());
    for (index, page_lines) in pages.iter().enumerate() {
        let content = page_content(title, index + 1, page_count, page_lines);
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * index
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    assemble(&objects)
}

/// The drawing operators of one page.
fn page_content(title: &str, page: usize, pages: usize, lines: &[String]) -> String {
    let mut content = String::new();
    let top = PAGE_HEIGHT - MARGIN;
    let _ = write!(
        content,
        "BT /F1 {FONT_SIZE} Tf {LEADING} TL {MARGIN} {top} Td ({}) Tj T* T*",
        escape(&format!("{title}  (page {page} of {pages})"))
    );
    for line in lines {
        let _ = write!(content, " ({}) Tj T*", escape(line));
    }
    content.push_str(" ET");
    content
}

/// A PDF string literal's content: printable ASCII, with `\`, `(` and `)` escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().take(LINE_CHARS) {
        match c {
            '\\' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Numbers the objects, writes the cross-reference table with their byte offsets, and the
/// trailer.
fn assemble(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(table, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    pdf.extend_from_slice(table.as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_limited_to_printable_ascii() {
        assert_eq!(escape("a(b)c\\d"), "a\\(b\\)c\\\\d");
        assert_eq!(escape("café\n"), "caf??");
        assert_eq!(escape(&"x".repeat(200)).len(), LINE_CHARS);
    }

    #[test]
    fn the_cross_reference_table_points_at_every_object() {
        let lines: Vec<String> = (0..200).map(|n| format!("line {n}")).collect();
        let pdf = document("Report", &lines);
        let text = String::from_utf8_lossy(&pdf);
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|tail| tail.lines().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(text[xref_at..].starts_with("xref\n"));
        let entries: Vec<usize> = text[xref_at..]
            .lines()
            .skip(3)
            .take_while(|line| line.ends_with(" n "))
            .map(|line| line[..10].parse().unwrap())
            .collect();
        assert_eq!(entries.len(), 3 + 2 * 3, "200 lines make three pages");
        for (index, offset) in entries.iter().enumerate() {
            assert!(text[*offset..].starts_with(&format!("{} 0 obj", index + 1)));
        }
    }
}

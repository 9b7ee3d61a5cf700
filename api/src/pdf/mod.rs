//! PDF reports: a title block with the headline figures, charts (columns over time, bars per
//! group) and tables with totals, laid out on A4 pages with a footer on each.
//!
//! A [`Report`] says what to show; [`layout`] places it on pages; [`render`] draws the pages
//! through `krilla`, which subsets and embeds the fonts (DejaVu Sans, so Latin, Greek and
//! Cyrillic names print as written) and compresses the content streams.

mod font;
mod layout;
mod render;

pub use render::RenderError;

/// A report, top to bottom.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The title at the top of the first page and in every footer.
    pub title: String,
    /// Lines under the title: what the report covers and for whom.
    pub about: Vec<String>,
    /// The headline figures, each a label and its value.
    pub figures: Vec<(String, String)>,
    /// The charts and tables, in order.
    pub blocks: Vec<Block>,
}

/// A part of a report under its own heading.
#[derive(Debug, Clone)]
pub enum Block {
    /// Columns over time, one per point, left to right.
    Columns(Chart),
    /// Horizontal bars, one per group, largest first.
    Bars(Chart),
    /// A table.
    Table(Table),
}

/// A chart: labelled values, with each value's text as the report prints it (the chart is a
/// picture; the exact figures are in the tables).
#[derive(Debug, Clone)]
pub struct Chart {
    /// The heading.
    pub title: String,
    /// The points: label, value (non-negative), the value as text.
    pub points: Vec<(String, f64, String)>,
}

/// A table: a header row, the rows, and an optional totals row set apart at the end.
#[derive(Debug, Clone)]
pub struct Table {
    /// The heading.
    pub title: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, a cell per column.
    pub rows: Vec<Vec<String>>,
    /// The totals, a cell per column.
    pub total: Option<Vec<String>>,
}

/// A table column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Its header.
    pub name: String,
    /// Its share of the page's width (the shares of a table sum to 1).
    pub share: f32,
    /// Numbers are right-aligned; text is left-aligned and cut with an ellipsis to fit.
    pub numeric: bool,
}

impl Column {
    /// A left-aligned text column.
    pub fn text(name: &str, share: f32) -> Self {
        Self {
            name: name.to_owned(),
            share,
            numeric: false,
        }
    }

    /// A right-aligned number column.
    pub fn number(name: &str, share: f32) -> Self {
        Self {
            name: name.to_owned(),
            share,
            numeric: true,
        }
    }
}

/// The report as a PDF document.
pub fn render(report: &Report) -> Result<Vec<u8>, RenderError> {
    render::document(&report.title, &layout::pages(report))
}

//! Places a [`Report`] on A4 pages: a list of drawing operations per page, in points from the
//! page's top-left corner, then a footer on each page once their number is known.

use super::font::{Face, fit, text_width};
use super::{Block, Chart, Report, Table};

/// A4, in points.
pub const WIDTH: f32 = 595.0;
/// A4, in points.
pub const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 42.0;
const CONTENT: f32 = WIDTH - 2.0 * MARGIN;
/// Content stops here, above the footer.
const BOTTOM: f32 = HEIGHT - MARGIN - 14.0;

const INK: Rgb = Rgb(0x1f, 0x29, 0x37);
const MUTED: Rgb = Rgb(0x6b, 0x72, 0x80);
const RULE: Rgb = Rgb(0xd1, 0xd5, 0xdb);
const BAND: Rgb = Rgb(0xf3, 0xf4, 0xf6);
const ACCENT: Rgb = Rgb(0x25, 0x63, 0xeb);

const TABLE_SIZE: f32 = 8.0;
const ROW: f32 = 13.0;
const CELL_PAD: f32 = 3.0;
const BAR_ROW: f32 = 15.0;
const BAR_LABEL: f32 = 150.0;
const BAR_VALUE: f32 = 70.0;
const COLUMN_PLOT: f32 = 110.0;
/// X-axis labels under a column chart, at most.
const COLUMN_LABELS: usize = 7;

/// A colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// A drawing operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Text on a baseline starting at `x`.
    Text {
        /// Left end.
        x: f32,
        /// Baseline.
        y: f32,
        /// Size in points.
        size: f32,
        /// Face.
        face: Face,
        /// Colour.
        color: Rgb,
        /// The text.
        text: String,
    },
    /// A filled rectangle.
    Rect {
        /// Left.
        x: f32,
        /// Top.
        y: f32,
        /// Width.
        w: f32,
        /// Height.
        h: f32,
        /// Colour.
        color: Rgb,
    },
}

/// The pages, each its operations.
pub fn pages(report: &Report) -> Vec<Vec<Op>> {
    let mut pager = Pager::new();
    title_block(&mut pager, report);
    for block in &report.blocks {
        match block {
            Block::Columns(chart) => columns(&mut pager, chart),
            Block::Bars(chart) => bars(&mut pager, chart),
            Block::Table(table) => self::table(&mut pager, table),
        }
    }
    let mut pages = pager.pages;
    let count = pages.len();
    for (index, ops) in pages.iter_mut().enumerate() {
        footer(ops, &report.title, index + 1, count);
    }
    pages
}

/// Lays operations out top to bottom, starting a page when the next item does not fit.
struct Pager {
    pages: Vec<Vec<Op>>,
    /// Where the next item goes on the last page.
    y: f32,
}

impl Pager {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    /// Starts a new page unless `height` more fits on this one; says whether it did.
    fn room(&mut self, height: f32) -> bool {
        if self.y + height <= BOTTOM || self.y == MARGIN {
            return false;
        }
        self.pages.push(Vec::new());
        self.y = MARGIN;
        true
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, face: Face, color: Rgb, text: &str) {
        self.push(Op::Text {
            x,
            y,
            size,
            face,
            color,
            text: text.to_owned(),
        });
    }

    /// Text whose right end is at `right`.
    fn text_right(&mut self, right: f32, y: f32, size: f32, face: Face, color: Rgb, text: &str) {
        let x = right - text_width(face, size, text);
        self.text(x, y, size, face, color, text);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.push(Op::Rect { x, y, w, h, color });
    }

    /// A block's heading, kept on the page of the first `then` points of what follows it.
    fn heading(&mut self, title: &str, then: f32) {
        self.room(30.0 + then);
        if self.y > MARGIN {
            self.y += 14.0;
        }
        self.text(MARGIN, self.y + 11.0, 11.0, Face::Bold, INK, title);
        self.y += 20.0;
    }
}

impl Pager {
    /// A chart's heading, and a line saying so when it has nothing to draw; whether it has.
    fn chart_heading(&mut self, chart: &Chart, then: f32) -> bool {
        self.heading(&chart.title, then);
        if chart.points.is_empty() {
            let y = self.y + 9.0;
            self.text(
                MARGIN,
                y,
                9.0,
                Face::Regular,
                MUTED,
                "Nothing in this period.",
            );
            self.y += 14.0;
        }
        !chart.points.is_empty()
    }
}

fn title_block(pager: &mut Pager, report: &Report) {
    let title = fit(Face::Bold, 18.0, &report.title, CONTENT);
    pager.text(MARGIN, pager.y + 18.0, 18.0, Face::Bold, INK, &title);
    pager.y += 28.0;
    for line in &report.about {
        let line = fit(Face::Regular, 9.0, line, CONTENT);
        pager.text(MARGIN, pager.y + 9.0, 9.0, Face::Regular, MUTED, &line);
        pager.y += 13.0;
    }
    if report.figures.is_empty() {
        return;
    }
    pager.y += 8.0;
    let gap = 10.0;
    let count = report.figures.len() as f32;
    let width = (CONTENT - gap * (count - 1.0)) / count;
    for (index, (label, value)) in report.figures.iter().enumerate() {
        let x = MARGIN + index as f32 * (width + gap);
        pager.rect(x, pager.y, width, 46.0, BAND);
        pager.rect(x, pager.y, 3.0, 46.0, ACCENT);
        let label = fit(Face::Regular, 8.0, label, width - 16.0);
        pager.text(x + 10.0, pager.y + 16.0, 8.0, Face::Regular, MUTED, &label);
        let value = fit(Face::Bold, 15.0, value, width - 16.0);
        pager.text(x + 10.0, pager.y + 36.0, 15.0, Face::Bold, INK, &value);
    }
    pager.y += 46.0;
}

/// A column per point over a baseline, the largest value marked on the axis, and a few
/// evenly spaced labels under the columns.
fn columns(pager: &mut Pager, chart: &Chart) {
    let height = COLUMN_PLOT + 24.0;
    if !pager.chart_heading(chart, height) {
        return;
    }
    let (max, max_text) = largest(chart);
    let axis = 60.0;
    let left = MARGIN + axis;
    let plot = CONTENT - axis;
    let top = pager.y;
    let base = top + COLUMN_PLOT;
    pager.text_right(left - 6.0, top + 8.0, 7.0, Face::Regular, MUTED, &max_text);
    pager.text_right(left - 6.0, base, 7.0, Face::Regular, MUTED, "0");
    pager.rect(left, top, plot, 0.5, BAND);
    let slot = plot / chart.points.len() as f32;
    for (index, (_, value, _)) in chart.points.iter().enumerate() {
        let h = scaled(*value, max) * COLUMN_PLOT;
        if h > 0.0 {
            let x = left + index as f32 * slot + slot * 0.15;
            pager.rect(x, base - h, (slot * 0.7).max(0.5), h, ACCENT);
        }
    }
    pager.rect(left, base, plot, 0.75, MUTED);
    let step = chart.points.len().div_ceil(COLUMN_LABELS).max(1);
    for (index, (label, _, _)) in chart.points.iter().enumerate().step_by(step) {
        let x = left + index as f32 * slot;
        let label = fit(Face::Regular, 7.0, label, slot * step as f32 - 2.0);
        pager.text(x, base + 11.0, 7.0, Face::Regular, MUTED, &label);
    }
    pager.y = base + 18.0;
}

/// A bar per point: its label, the bar, and its value.
fn bars(pager: &mut Pager, chart: &Chart) {
    if !pager.chart_heading(chart, BAR_ROW * chart.points.len().min(3) as f32) {
        return;
    }
    let (max, _) = largest(chart);
    let left = MARGIN + BAR_LABEL + 8.0;
    let room = CONTENT - BAR_LABEL - 8.0 - BAR_VALUE;
    for (label, value, text) in &chart.points {
        pager.room(BAR_ROW);
        let baseline = pager.y + 10.0;
        let label = fit(Face::Regular, 8.0, label, BAR_LABEL);
        pager.text(MARGIN, baseline, 8.0, Face::Regular, INK, &label);
        let w = scaled(*value, max) * room;
        pager.rect(left, pager.y + 2.0, w.max(0.75), 10.0, ACCENT);
        pager.text(left + w + 5.0, baseline, 8.0, Face::Regular, MUTED, text);
        pager.y += BAR_ROW;
    }
}

/// The largest value of a chart and its text; 0 when every value is 0 or there is none.
fn largest(chart: &Chart) -> (f64, String) {
    chart
        .points
        .iter()
        .filter(|(_, value, _)| value.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or((0.0, "0".to_owned()), |(_, value, text)| {
            (*value, text.clone())
        })
}

/// `value` as a fraction of `max`, within 0..=1.
fn scaled(value: f64, max: f64) -> f32 {
    if max <= 0.0 || !value.is_finite() {
        return 0.0;
    }
    (value / max).clamp(0.0, 1.0) as f32
}

/// A table: the header on a band (repeated on each page it runs onto), the rows with a
/// light rule between them, and the totals row in bold under a darker rule.
fn table(pager: &mut Pager, table: &Table) {
    pager.heading(&table.title, ROW * 3.0);
    header(pager, table);
    for row in &table.rows {
        if pager.room(ROW) {
            header(pager, table);
        }
        cells(pager, table, row, Face::Regular);
        pager.rect(MARGIN, pager.y - 0.25, CONTENT, 0.25, RULE);
    }
    if let Some(total) = &table.total {
        if pager.room(ROW + 2.0) {
            header(pager, table);
        }
        pager.rect(MARGIN, pager.y, CONTENT, 0.75, MUTED);
        pager.y += 1.0;
        cells(pager, table, total, Face::Bold);
    }
}

fn header(pager: &mut Pager, table: &Table) {
    pager.rect(MARGIN, pager.y, CONTENT, ROW + 2.0, BAND);
    pager.y += 1.0;
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    cells(pager, table, &names, Face::Bold);
    pager.y += 1.0;
}

/// One row of cells, each fitted to its column.
fn cells(pager: &mut Pager, table: &Table, row: &[String], face: Face) {
    let baseline = pager.y + 9.0;
    let mut x = MARGIN;
    for (column, cell) in table.columns.iter().zip(row) {
        let width = column.share * CONTENT;
        let cell = fit(face, TABLE_SIZE, cell, width - 2.0 * CELL_PAD);
        if column.numeric {
            pager.text_right(x + width - CELL_PAD, baseline, TABLE_SIZE, face, INK, &cell);
        } else {
            pager.text(x + CELL_PAD, baseline, TABLE_SIZE, face, INK, &cell);
        }
        x += width;
    }
    pager.y += ROW;
}

fn footer(ops: &mut Vec<Op>, title: &str, page: usize, pages: usize) {
    let y = HEIGHT - MARGIN + 8.0;
    ops.push(Op::Rect {
        x: MARGIN,
        y: y - 10.0,
        w: CONTENT,
        h: 0.5,
        color: RULE,
    });
    let number = format!("page {page} of {pages}");
    let number_width = text_width(Face::Regular, 7.0, &number);
    ops.push(Op::Text {
        x: MARGIN,
        y,
        size: 7.0,
        face: Face::Regular,
        color: MUTED,
        text: fit(Face::Regular, 7.0, title, CONTENT - number_width - 20.0),
    });
    ops.push(Op::Text {
        x: WIDTH - MARGIN - number_width,
        y,
        size: 7.0,
        face: Face::Regular,
        color: MUTED,
        text: number,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::Column;

    fn texts(page: &[Op]) -> Vec<&str> {
        page.iter()
            .filter_map(|op| match op {
                Op::Text { text, .. } => Some(text.as_str()),
                Op::Rect { .. } => None,
            })
            .collect()
    }

    fn long_table(rows: usize) -> Report {
        Report {
            title: "Activity".to_owned(),
            blocks: vec![Block::Table(Table {
                title: "Records".to_owned(),
                columns: vec![Column::text("model", 0.7), Column::number("cost", 0.3)],
                rows: (0..rows)
                    .map(|n| vec![format!("m{n}"), n.to_string()])
                    .collect(),
                total: Some(vec!["total".to_owned(), "x".to_owned()]),
            })],
            ..Report::default()
        }
    }

    #[test]
    fn a_long_table_runs_onto_pages_that_repeat_its_header_and_stay_inside_the_margins() {
        let pages = pages(&long_table(200));
        assert!(pages.len() >= 3, "{} pages", pages.len());
        for (index, page) in pages.iter().enumerate() {
            let texts = texts(page);
            assert!(texts.contains(&"model"), "page {index} lacks the header");
            let number = format!("page {} of {}", index + 1, pages.len());
            assert!(texts.contains(&number.as_str()), "{texts:?}");
            for op in page {
                let (x, y) = match op {
                    Op::Text { x, y, .. } | Op::Rect { x, y, .. } => (*x, *y),
                };
                assert!(
                    (0.0..=WIDTH).contains(&x) && (0.0..=HEIGHT).contains(&y),
                    "{op:?}"
                );
            }
        }
        let all: Vec<&str> = pages.iter().flat_map(|p| texts(p)).collect();
        for n in 0..200 {
            assert!(all.contains(&format!("m{n}").as_str()), "row {n} lost");
        }
        assert!(texts(pages.last().unwrap()).contains(&"total"));
    }

    #[test]
    fn chart_bars_are_proportional_to_their_values() {
        let chart = Chart {
            title: "By model".to_owned(),
            points: vec![
                ("a".to_owned(), 4.0, "4".to_owned()),
                ("b".to_owned(), 1.0, "1".to_owned()),
                ("c".to_owned(), 0.0, "0".to_owned()),
            ],
        };
        let mut pager = Pager::new();
        bars(&mut pager, &chart);
        let widths: Vec<f32> = pager.pages[0]
            .iter()
            .filter_map(|op| match op {
                Op::Rect { w, color, .. } if *color == ACCENT => Some(*w),
                _ => None,
            })
            .collect();
        assert_eq!(widths.len(), 3);
        assert!((widths[0] / widths[1] - 4.0).abs() < 0.01, "{widths:?}");
        assert!(widths[2] < 1.0);
    }
}

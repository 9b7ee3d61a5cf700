//! Draws laid-out pages with `krilla`.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};

use super::font::Face;
use super::layout::{HEIGHT, Op, Rgb, WIDTH};

/// Why a PDF could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The embedded font could not be read (a broken build, not a bad request).
    #[error("the report font could not be loaded")]
    Font,
    /// The PDF writer refused the document.
    #[error("the PDF writer failed: {0:?}")]
    Writer(krilla::error::KrillaError),
}

/// The PDF of `pages`, titled `title` in its metadata.
pub fn document(title: &str, pages: &[Vec<Op>]) -> Result<Vec<u8>, RenderError> {
    let load = |face: Face| Font::new(face.bytes().into(), 0).ok_or(RenderError::Font);
    let (regular, bold) = (load(Face::Regular)?, load(Face::Bold)?);
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .creator("ARouter Ledger".to_owned()),
    );
    for ops in pages {
        let settings = PageSettings::from_wh(WIDTH, HEIGHT).unwrap_or_default();
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    face,
                    color,
                    text,
                } => {
                    surface.set_fill(Some(fill(*color)));
                    let font = match face {
                        Face::Regular => regular.clone(),
                        Face::Bold => bold.clone(),
                    };
                    let start = Point::from_xy(*x, *y);
                    surface.draw_text(start, font, *size, text, false, TextDirection::Auto);
                }
                Op::Rect { x, y, w, h, color } => {
                    let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                        continue;
                    };
                    let mut path = PathBuilder::new();
                    path.push_rect(rect);
                    if let Some(path) = path.finish() {
                        surface.set_fill(Some(fill(*color)));
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(RenderError::Writer)
}

fn fill(Rgb(r, g, b): Rgb) -> Fill {
    Fill {
        paint: rgb::Color::new(r, g, b).into(),
        ..Fill::default()
    }
}

//! The timeline plot of a run as plain SVG: throughput, p99 latency and projection lag per
//! second, phases side by side on one time axis.

use std::fmt::Write;

use super::suite::Results;

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 170.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const GAP: f64 = 45.0;
/// Seconds of empty axis between two phases.
const PHASE_GAP_S: f64 = 2.0;
const COLOURS: [&str; 7] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
];

/// One series to draw: points (seconds on the run's axis, value).
struct Line {
    colour: &'static str,
    points: Vec<(f64, f64)>,
}

/// The SVG document.
pub fn timeline(results: &Results) -> String {
    let mut offsets = Vec::new();
    let mut at = 0.0;
    for phase in &results.phases {
        offsets.push(at);
        at += phase.summary.seconds + PHASE_GAP_S;
    }
    let total_s = at.max(1.0);
    let colour = |i: usize| COLOURS[i % COLOURS.len()];
    let per_phase = |value: &dyn Fn(usize) -> Vec<(f64, f64)>| -> Vec<Line> {
        (0..results.phases.len())
            .map(|i| Line {
                colour: colour(i),
                points: value(i)
                    .into_iter()
                    .map(|(x, y)| (x + offsets[i], y))
                    .collect(),
            })
            .collect()
    };
    let throughput = per_phase(&|i| {
        results.phases[i]
            .summary
            .series
            .iter()
            .map(|s| (f64::from(s.second) + 0.5, s.ops as f64))
            .collect()
    });
    let latency = per_phase(&|i| {
        results.phases[i]
            .summary
            .series
            .iter()
            .map(|s| (f64::from(s.second) + 0.5, s.p99_ms))
            .collect()
    });
    let lag = per_phase(&|i| {
        results.phases[i]
            .lag
            .iter()
            .map(|s| (s.at_ms as f64 / 1000.0, s.lag_ms as f64))
            .collect()
    });
    let height = TOP + 3.0 * (PANEL_HEIGHT + GAP) + 20.0 * results.phases.len() as f64;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="18" font-size="13">ARouter Ledger suite {} — per second, phases one after another</text>"#,
        results.started_at
    );
    for (index, (title, lines)) in [
        ("operations / s", &throughput),
        ("p99 latency, ms", &latency),
        ("projection lag, ms", &lag),
    ]
    .into_iter()
    .enumerate()
    {
        let top = TOP + index as f64 * (PANEL_HEIGHT + GAP);
        panel(&mut svg, top, title, lines, total_s);
    }
    let legend_top = TOP + 3.0 * (PANEL_HEIGHT + GAP);
    for (i, phase) in results.phases.iter().enumerate() {
        let y = legend_top + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{LEFT}" y="{}" width="14" height="8" fill="{}"/><text x="{}" y="{}">{} (from {:.0} s)</text>"#,
            y - 8.0,
            colour(i),
            LEFT + 20.0,
            y,
            escape(&phase.name),
            offsets[i]
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// One panel: axes, a y scale from 0 to the highest point, and the lines.
fn panel(svg: &mut String, top: f64, title: &str, lines: &[Line], total_s: f64) {
    let max_y = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.05;
    let plot_width = WIDTH - LEFT - RIGHT;
    let x = |s: f64| LEFT + s / total_s * plot_width;
    let y = |v: f64| top + PANEL_HEIGHT - v / max_y * PANEL_HEIGHT;
    let bottom = top + PANEL_HEIGHT;
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="{}" font-size="12">{title}</text><line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#333"/><line x1="{LEFT}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="#333"/>"##,
        top - 6.0,
        WIDTH - RIGHT
    );
    for tick in 0..=4 {
        let value = max_y * f64::from(tick) / 4.0;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{value:.0}</text><line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            LEFT - 4.0,
            y(value) + 4.0,
            y(value),
            WIDTH - RIGHT,
            y(value)
        );
    }
    let step = ((total_s / 10.0 / 10.0).ceil() * 10.0).max(10.0);
    let mut s = 0.0;
    while s <= total_s {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{s:.0} s</text>"#,
            x(s),
            bottom + 14.0
        );
        s += step;
    }
    for line in lines {
        if line.points.is_empty() {
            continue;
        }
        let points: Vec<String> = line
            .points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
            line.colour,
            points.join(" ")
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

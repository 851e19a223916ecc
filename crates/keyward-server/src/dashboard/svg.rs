//! The usage chart, drawn on the server as SVG: one stacked bar a day, coloured by how
//! the checks ended. No script and no inline style (presentation attributes only), so
//! the page's Content-Security-Policy holds.

use keyward_app::usage::DayUsage;
use keyward_core::check::Outcome;
use std::fmt::Write;

/// How a check ended, as the chart colours it: by the HTTP answer it gets.
#[derive(Clone, Copy)]
enum Band {
    Valid,
    Refused,
    Denied,
    Limited,
}

const BANDS: [(Band, &str, &str); 4] = [
    (Band::Valid, "#067647", "valid"),
    (Band::Refused, "#b42318", "refused (401)"),
    (Band::Denied, "#dc6803", "denied (403)"),
    (Band::Limited, "#6941c6", "limited (429)"),
];

fn band(outcome: Outcome) -> Band {
    match outcome.http_status() {
        200 => Band::Valid,
        401 => Band::Refused,
        429 => Band::Limited,
        _ => Band::Denied,
    }
}

/// Checks per day, per band.
fn tally(day: &DayUsage) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (outcome, n) in day.outcomes.iter() {
        out[band(outcome) as usize] += n;
    }
    out
}

/// The chart of `days`, as an SVG element to put in a page. Every text in it is
/// written by this function (numbers and dates), never taken from input.
pub fn usage_chart(days: &[DayUsage]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 24.0;
    let most = days.iter().map(|d| d.total).max().unwrap_or(0).max(1);
    let slot = (W - LEFT) / days.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let mut svg = String::new();
    let total: u64 = days.iter().map(|d| d.total).sum();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">Checks per day over the last {} days: {total} in all</title>",
        days.len()
    );
    // Axis: zero and the busiest day.
    let plot = H - BOTTOM;
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{plot}\" x2=\"{W}\" y2=\"{plot}\" stroke=\"#d0d5dd\"/>\
         <text x=\"{}\" y=\"12\" font-size=\"11\" text-anchor=\"end\" fill=\"#475467\">{most}</text>\
         <text x=\"{}\" y=\"{plot}\" font-size=\"11\" text-anchor=\"end\" fill=\"#475467\">0</text>",
        LEFT - 6.0,
        LEFT - 6.0
    );
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let counts = tally(day);
        let date = keyward_core::timestamp::format_day(day.day);
        let _ = write!(svg, "<g><title>{date}: {}", day.total);
        for ((_, _, name), n) in BANDS.iter().zip(counts) {
            if n > 0 {
                let _ = write!(svg, ", {n} {name}");
            }
        }
        svg.push_str("</title>");
        let mut y = plot;
        for ((_, colour, _), n) in BANDS.iter().zip(counts) {
            if n == 0 {
                continue;
            }
            let h = (n as f64 / most as f64) * (plot - 8.0);
            y -= h;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{colour}\"/>"
            );
        }
        if day.total == 0 {
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"1\" fill=\"#eaecf0\"/>",
                plot - 1.0
            );
        }
        svg.push_str("</g>");
        // A date under the first bar, the last, and every seventh not too near the last.
        if i == 0 || i + 1 == days.len() || (i % 7 == 0 && i + 4 < days.len()) {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#475467\">{}</text>",
                x + bar / 2.0,
                H - 6.0,
                &date[5..]
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The chart's legend entries: class and words.
pub const LEGEND: [(&str, &str); 4] = [
    ("valid", "valid"),
    ("refused", "refused (401)"),
    ("denied", "denied (403)"),
    ("limited", "limited (429)"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_app::usage::OutcomeCounts;

    #[test]
    fn bars_stack_by_answer_and_hold_no_style_or_script() {
        let mut outcomes = OutcomeCounts::default();
        outcomes.add(Outcome::Valid, 5);
        outcomes.add(Outcome::Revoked, 2);
        outcomes.add(Outcome::RateLimited, 1);
        let day = DayUsage {
            day: time::macros::date!(2026 - 12 - 01),
            total: 8,
            outcomes,
        };
        let empty = DayUsage {
            day: time::macros::date!(2026 - 12 - 02),
            total: 0,
            outcomes: OutcomeCounts::default(),
        };
        let svg = usage_chart(&[day, empty]);
        assert!(
            svg.contains("2026-12-01: 8, 5 valid, 2 refused (401), 1 limited (429)"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<rect").count(),
            4,
            "three bands and one empty day"
        );
        assert!(!svg.contains("style") && !svg.contains("<script"));
    }
}

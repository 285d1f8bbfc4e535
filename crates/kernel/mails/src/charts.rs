//! A report's chart series as PNG images that mail clients show (sent inline and named by
//! `cid:`; Gmail blocks `data:` images). Drawn with `plotters` into a pixel buffer and encoded
//! with `png`, both pure Rust. The image carries no text (so no font is needed): the mail says
//! the title above it, and the image's `alt` text names its peak.

use lsn_ops::summary::{Chart, ChartKind};
use plotters::prelude::*;

pub const WIDTH: u32 = 560;
pub const HEIGHT: u32 = 180;

const BRAND: RGBColor = RGBColor(0x6d, 0x28, 0xd9);
const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);

#[derive(Debug)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chart: {}", self.0)
    }
}

impl std::error::Error for ChartError {}

fn err(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// The chart as a PNG file.
pub fn png(chart: &Chart) -> Result<Vec<u8>, ChartError> {
    let (w, h) = (WIDTH, HEIGHT);
    let mut pixels = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right, top, bottom) = (8i32, w as i32 - 8, 8i32, h as i32 - 8);
        for i in 0..=4 {
            let y = top + (bottom - top) * i / 4;
            root.draw(&PathElement::new(vec![(left, y), (right, y)], GRID.stroke_width(1))).map_err(err)?;
        }
        let values: Vec<i64> = chart.points.iter().map(|(_, m)| m.raw().max(0)).collect();
        let max = values.iter().copied().max().unwrap_or(0).max(1);
        let n = values.len().max(1) as i32;
        let slot = (right - left) / n;
        let y_of = |v: i64| bottom - ((i128::from(v) * i128::from(bottom - top)) / i128::from(max)) as i32;
        match chart.kind {
            ChartKind::Bars => {
                let gap = (slot / 5).max(1);
                for (i, v) in values.iter().enumerate() {
                    let x0 = left + slot * i as i32 + gap / 2;
                    let x1 = x0 + (slot - gap).max(1);
                    // A zero still shows as a hairline, so the hours without sales are visible.
                    let y = y_of(*v).min(bottom - 1);
                    root.draw(&Rectangle::new([(x0, y), (x1, bottom)], BRAND.filled())).map_err(err)?;
                }
            }
            ChartKind::Line => {
                let pts: Vec<(i32, i32)> = values.iter().enumerate().map(|(i, v)| (left + slot * i as i32 + slot / 2, y_of(*v))).collect();
                root.draw(&PathElement::new(pts.clone(), BRAND.stroke_width(3))).map_err(err)?;
                for p in pts {
                    root.draw(&Circle::new(p, 3, BRAND.filled())).map_err(err)?;
                }
            }
        }
        root.present().map_err(err)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(&pixels).map_err(err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lsn_ops::summary::Measure;

    #[test]
    fn a_chart_is_a_png_of_its_size_with_its_bars_drawn() {
        let points = (0..24).map(|h| (format!("{h:02}"), Measure::Money(if h == 12 { 50_000 } else { h * 1_000 }))).collect();
        let chart = Chart { id: "revenue", title: "Revenue by hour".into(), kind: ChartKind::Bars, points };
        let bytes = png(&chart).expect("png");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().expect("header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        // The tallest bar (noon) reaches the top grid line; the brand colour is there.
        let px = |x: u32, y: u32| {
            let i = ((y * WIDTH + x) * 3) as usize;
            (buf[i], buf[i + 1], buf[i + 2])
        };
        let slot = (WIDTH - 16) / 24;
        let noon = 8 + slot * 12 + slot / 2;
        assert_eq!(px(noon, 12), (BRAND.0, BRAND.1, BRAND.2));
        assert_eq!(px(8 + slot / 2, 12), (255, 255, 255), "the first hour's bar is low");
        let empty = Chart { points: Vec::new(), kind: ChartKind::Line, ..chart };
        assert!(png(&empty).is_ok());
    }
}

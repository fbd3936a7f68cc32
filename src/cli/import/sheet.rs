//! Reading a spreadsheet as text cells: CSV with the `csv` crate, workbooks (.xlsx, .xlsm,
//! .xls, .ods) with `calamine`. Rows are numbered as a spreadsheet shows them: the header is
//! row 1.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use calamine::{Data, Reader as _};

/// A sheet's header and its data rows, each with its row number.
pub struct Sheet {
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Reads `path`: a workbook by its extension, CSV otherwise.
pub fn read(path: &Path, sheet: Option<&str>, delimiter: u8) -> Result<Sheet> {
    let ext = path
        .extension()
        .and_then(|x| x.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let read = match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => read_workbook(path, sheet),
        _ => {
            if sheet.is_some() {
                bail!(
                    "--sheet is for workbooks; {} is read as CSV",
                    path.display()
                );
            }
            read_csv(path, delimiter)
        }
    };
    read.with_context(|| format!("reading {}", path.display()))
}

fn read_csv(path: &Path, delimiter: u8) -> Result<Sheet> {
    let bytes = std::fs::read(path)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    parse_csv(bytes, delimiter)
}

/// Parses CSV text; rows may have fewer or more cells than the header.
pub fn parse_csv(bytes: &[u8], delimiter: u8) -> Result<Sheet> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut header = None;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| anyhow!("row {}: {e}", i + 1))?;
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        if header.is_none() {
            header = Some(cells);
        } else {
            rows.push((i + 1, cells));
        }
    }
    let header = header.context("the file is empty: no header row")?;
    Ok(Sheet { header, rows })
}

fn read_workbook(path: &Path, sheet: Option<&str>) -> Result<Sheet> {
    let mut book = calamine::open_workbook_auto(path)?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .with_context(|| {
                format!("no worksheet {s:?}; the workbook has {}", names.join(", "))
            })?,
        None => names
            .first()
            .cloned()
            .context("the workbook has no worksheet")?,
    };
    let range = book
        .worksheet_range(&name)
        .with_context(|| format!("worksheet {name:?}"))?;
    // The range starts at its first used cell; row numbers count from the sheet's top.
    let (top, left) = range.start().unwrap_or((0, 0));
    let pad = left as usize;
    let mut header = None;
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let mut cells = vec![String::new(); pad];
        cells.extend(row.iter().map(cell_text));
        let number = top as usize + i + 1;
        if header.is_none() {
            if number != 1 {
                bail!(
                    "worksheet {name:?}: the header must be in row 1, and row {number} is the first used"
                );
            }
            header = Some(cells);
        } else {
            rows.push((number, cells));
        }
    }
    let header = header.with_context(|| format!("worksheet {name:?} is empty"))?;
    Ok(Sheet { header, rows })
}

/// A cell as the text a person sees in it: whole numbers without `.0`, dates and times as
/// `YYYY-MM-DD HH:MM:SS` (local time, as the sheet holds them).
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            }
        }
        Data::Bool(b) => b.to_string(),
        Data::DateTime(t) if t.is_datetime() => excel_time(t).unwrap_or_else(|| t.to_string()),
        Data::DateTime(t) => t.as_f64().to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// An Excel date-time to the nearest second: the serial number is a float, so a cell showing
/// 06:02 may hold 06:01:59.999. The day comes from calamine (which knows the workbook's date
/// system), the time of day from the serial's fraction.
fn excel_time(t: &calamine::ExcelDateTime) -> Option<String> {
    let (y, mo, d, h, mi, _, _) = t.to_ymd_hms_milli();
    let date =
        time::Date::from_calendar_date(i32::from(y), time::Month::try_from(mo).ok()?, d).ok()?;
    let mut secs = (t.as_f64().fract() * 86_400.0).round() as i64;
    if h == 0 && mi == 0 && secs > 43_200 {
        // calamine already rounded up into the next day.
        secs -= 86_400;
    }
    let at = date.midnight().checked_add(time::Duration::seconds(secs))?;
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.format(&fmt).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_numbered_as_a_spreadsheet_shows_them() {
        let s = parse_csv(b"A,B\n1,2\n\"x,y\",\n3\n", b',').unwrap();
        assert_eq!(s.header, ["A", "B"]);
        assert_eq!(
            s.rows,
            vec![
                (2, vec!["1".to_owned(), "2".to_owned()]),
                (3, vec!["x,y".to_owned(), String::new()]),
                (4, vec!["3".to_owned()]),
            ]
        );
        let s = parse_csv(b"A;B\n1;2\n", b';').unwrap();
        assert_eq!(s.rows[0].1, ["1", "2"]);
        assert!(parse_csv(b"", b',').is_err());
    }

    #[test]
    fn workbook_cells_read_as_text() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        assert_eq!(cell_text(&Data::Float(1200.0)), "1200");
        assert_eq!(cell_text(&Data::Float(12.5)), "12.5");
        assert_eq!(cell_text(&Data::Int(-3)), "-3");
        // 2025-10-13 12:59:02 in Excel's 1900 date system.
        let t = ExcelDateTime::new(45943.541, ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(t)), "2025-10-13 12:59:02");
        // 06:02 stored a hair early reads as 06:02.
        let t = ExcelDateTime::new(
            46311.0 + 362.0 / 1440.0 - 1e-9,
            ExcelDateTimeType::DateTime,
            false,
        );
        assert_eq!(cell_text(&Data::DateTime(t)), "2026-10-16 06:02:00");
        let t = ExcelDateTime::new(46311.251388888886, ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(t)), "2026-10-16 06:02:00");
        let t = ExcelDateTime::new(46312.0 - 1e-9, ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(t)), "2026-10-17 00:00:00");
    }
}

//! Text tables for the CLI's human output: a header row, columns two spaces apart.

/// `rows[0]` is the header; every row has as many cells as it.
pub fn render(rows: &[Vec<String>]) -> String {
    let n = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..n)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_under_the_header() {
        let rows = vec![
            vec!["ID".to_string(), "USER".into(), "X".into()],
            vec!["s1".to_string(), "alice".into(), "".into()],
        ];
        assert_eq!(super::render(&rows), "ID  USER   X\ns1  alice\n");
    }
}

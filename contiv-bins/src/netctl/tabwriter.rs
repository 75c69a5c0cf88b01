//! An exact emulation of Go's `text/tabwriter` for the settings netctl uses.
//!
//! The original netctl printed every table through
//! `tabwriter.NewWriter(os.Stdout, minwidth, tabwidth, padding, padchar, 0)`
//! and users (and their scripts) know its output byte for byte, trailing
//! spaces included. This module reproduces Go's algorithm:
//!
//! * text is cut into lines at `\n` and into cells at `\t`; a cell is
//!   *tab-terminated*, so the text after the last tab of a line is not part
//!   of any column and is printed as is;
//! * a *column block* is a run of consecutive lines that all have a
//!   tab-terminated cell in that column; its width is the widest cell of the
//!   block plus `padding` (at least `minwidth`), and every cell of the block
//!   (empty ones too) is padded to it;
//! * blocks nest: the columns to the right of a block are formatted within
//!   the lines of that block only.
//!
//! Only flags `0` are supported (left alignment, no escapes, no
//! `DiscardEmptyColumns`), which is all netctl needs. Widths count Unicode
//! scalar values, as Go's `utf8.RuneCount` does.

/// A Go `text/tabwriter` configuration (flags 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TabWriter {
    minwidth: usize,
    tabwidth: usize,
    padding: usize,
    padchar: char,
}

impl TabWriter {
    /// Same arguments as Go's `tabwriter.NewWriter(w, minwidth, tabwidth,
    /// padding, padchar, 0)`.
    pub const fn new(minwidth: usize, tabwidth: usize, padding: usize, padchar: char) -> Self {
        TabWriter {
            minwidth,
            tabwidth,
            padding,
            padchar,
        }
    }

    /// netctl's tables: minwidth 0, padding 2, padchar `' '`, with the given
    /// tabwidth (2 for most tables, 4 for `tenant ls` and `global info`; the
    /// tabwidth only matters when padding with tabs, so both give the same
    /// bytes here).
    pub const fn netctl(tabwidth: usize) -> Self {
        TabWriter::new(0, tabwidth, 2, ' ')
    }

    /// Formats `text` as Go's writer would after `Write(text)` and `Flush()`.
    pub fn format(&self, text: &str) -> String {
        let lines = split_cells(text);
        let mut fmt = Formatter {
            cfg: *self,
            lines: &lines,
            widths: Vec::new(),
            out: String::with_capacity(text.len() * 2),
        };
        fmt.format(0, lines.len());
        fmt.out
    }
}

/// Cuts text into lines of cells. Every line but the last ends with a cell
/// that held the text before its newline (possibly empty); the last
/// (unterminated) line keeps its trailing cell only if it is not empty, as
/// Go only terminates a non-empty pending cell on `Flush`.
fn split_cells(text: &str) -> Vec<Vec<&str>> {
    let segments: Vec<&str> = text.split('\n').collect();
    let last = segments.len() - 1;
    segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let mut cells: Vec<&str> = seg.split('\t').collect();
            if i == last && cells.last().is_some_and(|c| c.is_empty()) {
                cells.pop();
            }
            cells
        })
        .collect()
}

struct Formatter<'a> {
    cfg: TabWriter,
    lines: &'a [Vec<&'a str>],
    widths: Vec<usize>,
    out: String,
}

fn width(cell: &str) -> usize {
    cell.chars().count()
}

impl Formatter<'_> {
    /// True if `line` has a tab-terminated cell in `column`.
    fn has_column(&self, line: usize, column: usize) -> bool {
        column + 1 < self.lines[line].len()
    }

    fn format(&mut self, line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut line0 = line0;
        let mut this = line0;
        while this < line1 {
            if !self.has_column(this, column) {
                this += 1;
                continue;
            }
            // The lines before this block have no cell in this column.
            self.write_lines(line0, this);
            line0 = this;

            let mut width = self.cfg.minwidth;
            while this < line1 && self.has_column(this, column) {
                width = width.max(self.lines[this][column].chars().count() + self.cfg.padding);
                this += 1;
            }

            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out.push_str(cell);
                if let Some(&cellw) = self.widths.get(j) {
                    self.write_padding(width(cell), cellw);
                }
            }
            if i + 1 < self.lines.len() {
                self.out.push('\n');
            }
        }
    }

    fn write_padding(&mut self, textw: usize, cellw: usize) {
        if self.cfg.padchar == '\t' {
            if self.cfg.tabwidth == 0 {
                return;
            }
            let tw = self.cfg.tabwidth;
            let cellw = cellw.div_ceil(tw) * tw;
            let n = cellw.saturating_sub(textw);
            self.out.extend(std::iter::repeat_n('\t', n.div_ceil(tw)));
        } else {
            let n = cellw.saturating_sub(textw);
            self.out.extend(std::iter::repeat_n(self.cfg.padchar, n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tw(text: &str) -> String {
        TabWriter::netctl(2).format(text)
    }

    #[test]
    fn aligns_columns_with_padding_two() {
        assert_eq!(tw("a\tbb\tc\nddd\te\tf\n"), "a    bb  c\nddd  e   f\n");
    }

    #[test]
    fn last_cell_is_not_padded_but_terminated_empty_cell_is() {
        // "x\t\n": the empty cell after the tab is the line's last cell.
        assert_eq!(tw("Name\t\nlonger\t\n"), "Name    \nlonger  \n");
    }

    #[test]
    fn line_without_tabs_breaks_the_column_block() {
        let out = tw("a\tb\nheading\nlong-cell\tc\n");
        assert_eq!(out, "a  b\nheading\nlong-cell  c\n");
    }

    #[test]
    fn nested_blocks_only_span_their_lines() {
        // Column 1 exists in lines 0 and 1 only; line 2 has a single column.
        let out = tw("a\tb\tc\naa\tbbbb\tc\naaaa\tz\n");
        assert_eq!(out, "a     b     c\naa    bbbb  c\naaaa  z\n");
    }

    #[test]
    fn unterminated_last_line_is_written_without_newline() {
        assert_eq!(tw("a\tb\nc\td"), "a  b\nc  d");
        assert_eq!(tw(""), "");
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        assert_eq!(tw("é\tx\nab\ty\n"), "é   x\nab  y\n");
    }

    #[test]
    fn minwidth_and_tab_padding() {
        let w = TabWriter::new(6, 4, 1, ' ');
        assert_eq!(w.format("a\tb\n"), "a     b\n");
        let tabs = TabWriter::new(0, 4, 1, '\t');
        // cell width 1+1=2, rounded up to 4: one tab.
        assert_eq!(tabs.format("a\tb\nabcd\tc\n"), "a\t\tb\nabcd\tc\n");
    }
}

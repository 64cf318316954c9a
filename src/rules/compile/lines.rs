//! Source snippets for `rules explain`.

use std::sync::Arc;

use crate::rules::diagnostics::SourceFile;
use crate::rules::yaml::{Node, NodeValue};

/// The start of every line of each file seen, so that cutting a rule's
/// source out of its file costs the length of the rule, not of the file
/// before it (walking `text.lines()` from the top for every rule made loading
/// quadratic in the file's size).
#[derive(Default)]
pub(super) struct LineIndex {
    files: Vec<(Arc<SourceFile>, Vec<usize>)>,
}

impl LineIndex {
    /// The lines of `file` that `node` spans, as `text.lines()` gives them,
    /// joined with `\n`.
    pub(super) fn snippet(&mut self, file: &Arc<SourceFile>, node: &Node) -> String {
        fn last_line(n: &Node) -> u32 {
            match &n.value {
                NodeValue::Seq(items) => items.iter().map(last_line).max().unwrap_or(n.pos.line),
                NodeValue::Map(entries) => entries
                    .iter()
                    .map(|(_, v)| last_line(v))
                    .max()
                    .unwrap_or(n.pos.line),
                NodeValue::Str(s) => n.pos.line + s.matches('\n').count() as u32,
                _ => n.pos.line,
            }
        }
        let text = file.text();
        let i = match self.files.iter().position(|(f, _)| Arc::ptr_eq(f, file)) {
            Some(i) => i,
            None => {
                let starts = std::iter::once(0)
                    .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                    .filter(|&s| s < text.len())
                    .collect();
                self.files.push((file.clone(), starts));
                self.files.len() - 1
            }
        };
        let starts = &self.files[i].1;
        let first = node.pos.line.max(1) as usize;
        let last = (last_line(node).max(node.pos.line) as usize).min(starts.len());
        if first > last {
            return String::new();
        }
        // The lines are contiguous in the file: without `\r` in them, they
        // are one slice (minus the last line break).
        let end = starts.get(last).copied().unwrap_or(text.len());
        let all = &text[starts[first - 1]..end];
        if !all.contains('\r') {
            return all.strip_suffix('\n').unwrap_or(all).to_owned();
        }
        let mut out = String::with_capacity(all.len());
        for line in first..=last {
            let start = starts[line - 1];
            let end = starts.get(line).copied().unwrap_or(text.len());
            let l = &text[start..end];
            let l = match l.strip_suffix('\n') {
                Some(l) => l.strip_suffix('\r').unwrap_or(l),
                None => l,
            };
            if line > first {
                out.push('\n');
            }
            out.push_str(l);
        }
        out
    }
}

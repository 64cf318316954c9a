//! "Did you mean": the one closeness measure every suggestion of the crate
//! uses (rule files, rule ids, the token file's keys).

/// "did you mean `x`?" for the candidate closest to `word`, when one is close.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate most like `word`, when one is close enough to be what was
/// meant (Jaro-Winkler similarity above 0.8): the one measure every
/// did-you-mean of the crate uses.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(word, c);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

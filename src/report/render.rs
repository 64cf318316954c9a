//! Report renderers (in progress).

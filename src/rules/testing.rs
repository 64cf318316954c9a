//! Rule-test files: named cases with a context and expected outcomes (in progress).

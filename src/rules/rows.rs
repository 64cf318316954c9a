//! Field rows: each bound element's fields found once per check.
//!
//! Rules read the same few fields of the same elements again and again: the
//! built-in set reads `item.action` in five rules, and every `for_each` over
//! `order.orderItems` binds each item anew. A lookup in a `serde_json` object
//! walks its keys, so repeating it costs as much as the first time.
//!
//! At load, every distinct field name that a path reads directly from a
//! variable (`item.action`, `profile.enabled`, `addOn.quantity`) is numbered
//! in the rule set's [`FieldTable`]. During a check, the first time an
//! element is bound its object is walked once and each of its fields that the
//! table knows is stored in the element's row; a later `item.action` is then
//! one index. Rows also hold the element's remembered named conditions
//! (see `Cond::Named`).
//!
//! Rows live for one check (the context is borrowed immutably for all of
//! it), are found by the address of the list an element belongs to plus its
//! index, and are built only for elements a rule actually binds.

use std::collections::HashMap;

use serde_json::Value;

/// The field names rules read directly from a variable, numbered.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct FieldTable {
    names: Vec<Box<str>>,
    /// Open addressing over `names`: index + 1, 0 for an empty slot. Its
    /// length is a power of two, at least twice the number of names.
    slots: Vec<u16>,
}

/// A hash of a field name from its length and three of its bytes: no loop
/// over the name, and ION's field names differ in length or at these
/// places often enough; collisions only cost a comparison.
#[inline]
fn hash(name: &[u8]) -> usize {
    let n = name.len();
    match name {
        [] => 0,
        [first, .., last] => {
            let mid = name[n / 2];
            n.wrapping_mul(0x9E37)
                ^ usize::from(*first).wrapping_mul(0x2F)
                ^ usize::from(mid).wrapping_mul(0x3B9)
                ^ usize::from(*last).wrapping_mul(0x1F3D)
        }
        [only] => usize::from(*only),
    }
}

/// Puts name number `index` (< `u16::MAX`) into the first free slot from
/// its hash on.
fn place(slots: &mut [u16], name: &[u8], index: usize) {
    let mask = slots.len() - 1;
    let mut at = hash(name) & mask;
    while slots[at] != 0 {
        at = (at + 1) & mask;
    }
    slots[at] = (index + 1) as u16;
}

impl FieldTable {
    /// The number of `name`, numbering it if it is new. `None` once the
    /// table is full (65,535 names): such fields are looked up the slow way.
    pub(crate) fn intern(&mut self, name: &str) -> Option<u16> {
        if let Some(f) = self.get(name) {
            return Some(f);
        }
        let id = u16::try_from(self.names.len())
            .ok()
            .filter(|&i| i < u16::MAX)?;
        self.names.push(name.into());
        if self.slots.len() < self.names.len() * 2 {
            let size = (self.names.len() * 4).next_power_of_two();
            self.slots = vec![0; size];
            for (i, n) in self.names.iter().enumerate() {
                place(&mut self.slots, n.as_bytes(), i);
            }
        } else {
            place(&mut self.slots, name.as_bytes(), usize::from(id));
        }
        Some(id)
    }

    /// The number of `name`, if rules read it.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<u16> {
        if self.slots.is_empty() {
            return None;
        }
        let name = name.as_bytes();
        let mask = self.slots.len() - 1;
        let mut at = hash(name) & mask;
        loop {
            let s = self.slots[at];
            if s == 0 {
                return None;
            }
            let i = usize::from(s - 1);
            if self.names[i].as_bytes() == name {
                return Some(s - 1);
            }
            at = (at + 1) & mask;
        }
    }

    /// How many names are numbered.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// A multiplicative hash for keys that are addresses (the rows' lists):
/// the std SipHash costs more than the lookups it serves.
#[derive(Default, Clone, Copy)]
struct BuildAddressHasher;

impl std::hash::BuildHasher for BuildAddressHasher {
    type Hasher = AddressHasher;
    fn build_hasher(&self) -> AddressHasher {
        AddressHasher(0)
    }
}

/// See [`BuildAddressHasher`].
struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Which memo a named condition's value is kept in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MemoCell {
    /// It reads only context roots: one value per check.
    Root,
    /// Its free variable is bound to the element of this row.
    Row(u32),
}

/// The rows of one check.
///
/// Row 0 holds the named conditions that read only context roots; elements'
/// rows follow. Storage grows only when a list is seen for the first time,
/// and a check of a few dozen elements allocates it once.
pub(crate) struct Rows<'a> {
    /// Fields per row: the table's length.
    width: usize,
    /// Bytes of `state` per row: a "built" flag, then one per named
    /// condition (0 not known yet, 1 false, 2 true).
    stride: usize,
    /// `width` entries per row: the element's value of each numbered field.
    fields: Vec<Option<&'a Value>>,
    /// `stride` bytes per row.
    state: Vec<u8>,
    /// The first row of each list seen, by the address of its elements:
    /// searched in order while there are few lists (`few` of them, kept
    /// inline: a small check allocates nothing for them)…
    few_lists: [(usize, u32); FEW_LISTS],
    few: usize,
    /// …and by hash once there are many (an add-on list per order item).
    many_lists: HashMap<usize, u32, BuildAddressHasher>,
}

/// Lists searched in order before they go into the hash map.
const FEW_LISTS: usize = 8;
/// Rows room is made for at the first list: a typical check's.
const FIRST_ROWS: usize = 32;

impl<'a> Rows<'a> {
    /// Empty rows for a rule set with `width` numbered fields and
    /// `memo_width` named conditions. Allocates nothing.
    pub(crate) fn new(width: usize, memo_width: usize) -> Self {
        Rows {
            width,
            stride: memo_width + 1,
            fields: Vec::new(),
            state: Vec::new(),
            few_lists: [(0, 0); FEW_LISTS],
            few: 0,
            many_lists: HashMap::default(),
        }
    }

    /// The number of rows so far (row 0 included once anything exists).
    fn rows(&self) -> usize {
        self.state.len() / self.stride
    }

    /// Makes room for rows up to `end` (exclusive), row 0 included.
    fn grow(&mut self, end: usize) {
        let end = end.max(1);
        if self.state.is_empty() {
            let room = end.max(FIRST_ROWS);
            self.state.reserve_exact(room * self.stride);
            self.fields.reserve_exact(room * self.width);
        }
        self.state.resize(end * self.stride, 0);
        self.fields.resize(end * self.width, None);
    }

    /// The first row of `list`'s elements (found once per walk over the
    /// list). `None` for an empty list, or when rows cannot be numbered
    /// (more than `u32::MAX`).
    pub(crate) fn block(&mut self, list: &'a [Value]) -> Option<u32> {
        if list.is_empty() {
            return None;
        }
        let key = list.as_ptr() as usize;
        if let Some(&(_, b)) = self.few_lists[..self.few].iter().find(|(k, _)| *k == key) {
            return Some(b);
        }
        if let Some(&b) = self.many_lists.get(&key) {
            return Some(b);
        }
        let base = self.rows().max(1);
        let end = base.checked_add(list.len())?;
        u32::try_from(end).ok()?;
        self.grow(end);
        let base = base as u32;
        if self.few < FEW_LISTS {
            self.few_lists[self.few] = (key, base);
            self.few += 1;
        } else {
            self.many_lists.insert(key, base);
        }
        Some(base)
    }

    /// The row of element `index` of a list whose block starts at `base`,
    /// with the fields of `element` (that element) filled in.
    #[inline]
    pub(crate) fn row(
        &mut self,
        table: &FieldTable,
        base: u32,
        index: usize,
        element: &'a Value,
    ) -> Option<u32> {
        let row = base.checked_add(u32::try_from(index).ok()?)?;
        let r = row as usize;
        let built = self.state.get_mut(r * self.stride)?;
        if *built == 0 {
            *built = 1;
            if self.width > 0
                && let Value::Object(m) = element
            {
                let start = r * self.width;
                for (k, v) in m {
                    if let Some(f) = table.get(k) {
                        self.fields[start + usize::from(f)] = Some(v);
                    }
                }
            }
        }
        Some(row)
    }

    /// Field `field` of the element in `row` (`None`: it has no such field,
    /// or is not an object).
    #[inline]
    pub(crate) fn field(&self, row: u32, field: u16) -> Option<&'a Value> {
        self.fields
            .get(row as usize * self.width + usize::from(field))
            .copied()
            .flatten()
    }

    fn memo_index(&self, cell: MemoCell, id: u32) -> Option<usize> {
        let id = id as usize;
        if id + 1 >= self.stride {
            return None;
        }
        let row = match cell {
            MemoCell::Root => 0,
            MemoCell::Row(row) => row as usize,
        };
        Some(row * self.stride + 1 + id)
    }

    /// The remembered value of named condition `id` in `cell`.
    #[inline]
    pub(crate) fn remembered(&self, cell: MemoCell, id: u32) -> Option<bool> {
        match self.state.get(self.memo_index(cell, id)?) {
            Some(1) => Some(false),
            Some(2) => Some(true),
            _ => None,
        }
    }

    /// Remembers the value of named condition `id` in `cell`.
    pub(crate) fn remember(&mut self, cell: MemoCell, id: u32, value: bool) {
        let Some(i) = self.memo_index(cell, id) else {
            return;
        };
        if i >= self.state.len() && matches!(cell, MemoCell::Root) {
            self.grow(1);
        }
        if let Some(s) = self.state.get_mut(i) {
            *s = if value { 2 } else { 1 };
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn table_numbers_names_once_and_finds_them_after_growing() {
        let mut t = FieldTable::default();
        let names: Vec<String> = (0..100).map(|i| format!("field{i}")).collect();
        let ids: Vec<u16> = names.iter().map(|n| t.intern(n).unwrap()).collect();
        assert_eq!(ids, (0..100).collect::<Vec<u16>>());
        assert_eq!(t.intern("field7"), Some(7));
        for (n, id) in names.iter().zip(&ids) {
            assert_eq!(t.get(n), Some(*id), "{n}");
        }
        assert_eq!(t.get("field100"), None);
        assert_eq!(t.get(""), None);
        assert_eq!(t.len(), 100);
    }

    #[test]
    fn rows_hold_each_elements_own_fields_and_memo() {
        let mut t = FieldTable::default();
        let action = t.intern("action").unwrap();
        let qty = t.intern("quantity").unwrap();
        let items = json!([{"action": "CREATE", "quantity": 2}, {"action": "UPDATE"}, 7]);
        let other = json!([{"action": "X"}]);
        let items = items.as_array().unwrap();
        let other = other.as_array().unwrap();
        let mut rows = Rows::new(t.len(), 2);
        fn row<'a>(
            rows: &mut Rows<'a>,
            t: &FieldTable,
            list: &'a [Value],
            i: usize,
        ) -> Option<u32> {
            let base = rows.block(list)?;
            rows.row(t, base, i, list.get(i)?)
        }
        let r0 = row(&mut rows, &t, items, 0).unwrap();
        let r2 = row(&mut rows, &t, items, 2).unwrap();
        let o0 = row(&mut rows, &t, other, 0).unwrap();
        let r1 = row(&mut rows, &t, items, 1).unwrap();
        assert_eq!(
            row(&mut rows, &t, items, 1),
            Some(r1),
            "a row is found again"
        );
        assert_ne!(r0, o0, "lists have their own rows");
        assert_eq!(rows.block(&[]), None, "an empty list has no rows");
        assert_eq!(rows.field(r0, action), Some(&json!("CREATE")));
        assert_eq!(rows.field(r0, qty), Some(&json!(2)));
        assert_eq!(rows.field(r1, action), Some(&json!("UPDATE")));
        assert_eq!(rows.field(r1, qty), None);
        assert_eq!(rows.field(r2, action), None, "not an object");
        assert_eq!(rows.field(o0, action), Some(&json!("X")));

        rows.remember(MemoCell::Row(r1), 1, true);
        rows.remember(MemoCell::Root, 0, false);
        assert_eq!(rows.remembered(MemoCell::Row(r1), 1), Some(true));
        assert_eq!(rows.remembered(MemoCell::Row(r0), 1), None);
        assert_eq!(rows.remembered(MemoCell::Row(r1), 0), None);
        assert_eq!(rows.remembered(MemoCell::Root, 0), Some(false));
        assert_eq!(rows.remembered(MemoCell::Root, 5), None, "out of range");
    }

    #[test]
    fn many_lists_keep_their_own_rows() {
        let mut t = FieldTable::default();
        let id = t.intern("id").unwrap();
        let lists: Vec<Vec<Value>> = (0..3 * FEW_LISTS)
            .map(|n| vec![json!({"id": n}), json!({"id": n + 1000})])
            .collect();
        let mut rows = Rows::new(t.len(), 1);
        let mut seen = Vec::new();
        for list in &lists {
            let base = rows.block(list).unwrap();
            seen.push((
                rows.row(&t, base, 0, &list[0]).unwrap(),
                rows.row(&t, base, 1, &list[1]).unwrap(),
            ));
        }
        rows.remember(MemoCell::Root, 0, true);
        for (n, list) in lists.iter().enumerate() {
            let base = rows.block(list).unwrap();
            let (first, second) = (
                rows.row(&t, base, 0, &list[0]).unwrap(),
                rows.row(&t, base, 1, &list[1]).unwrap(),
            );
            assert_eq!((first, second), seen[n], "list {n} found again");
            assert_eq!(rows.field(first, id), Some(&json!(n)));
            assert_eq!(rows.field(second, id), Some(&json!(n + 1000)));
        }
        assert_eq!(rows.remembered(MemoCell::Root, 0), Some(true));
        assert_eq!(
            rows.remembered(MemoCell::Row(seen[0].0), 0),
            None,
            "rows do not share the root's memo"
        );
    }
}

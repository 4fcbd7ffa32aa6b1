//! A bump heap with marks: `es_mark` remembers the top, `es_release` pops back to it.

use core::arch::wasm32;

extern "C" {
    static __heap_base: u8;
}

static mut TOP: usize = 0;

const PAGE: usize = 65536;

fn base() -> usize {
    unsafe { (&__heap_base as *const u8 as usize + 15) & !15 }
}

fn top() -> usize {
    unsafe {
        if TOP == 0 {
            TOP = base();
        }
        TOP
    }
}

/// Allocate `bytes` (16-byte aligned), growing memory as needed. Returns 0 when memory is exhausted.
#[no_mangle]
pub extern "C" fn es_alloc(bytes: usize) -> usize {
    let start = top();
    let end = match start.checked_add((bytes + 15) & !15) {
        Some(e) => e,
        None => return 0,
    };
    let have = wasm32::memory_size(0) * PAGE;
    if end > have {
        let need = (end - have + PAGE - 1) / PAGE;
        if wasm32::memory_grow(0, need) == usize::MAX {
            return 0;
        }
    }
    unsafe {
        TOP = end;
    }
    start
}

#[no_mangle]
pub extern "C" fn es_mark() -> usize {
    top()
}

/// Free everything allocated since `mark` was taken.
#[no_mangle]
pub extern "C" fn es_release(mark: usize) {
    let b = base();
    unsafe {
        TOP = if mark < b { b } else { mark };
    }
}

/// Scratch for one call: taken from the heap, handed back when dropped.
pub struct Scratch {
    mark: usize,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch { mark: es_mark() }
    }

    /// A zeroed slice of `n` elements, or None if memory is exhausted.
    pub fn take<T: Copy + Default>(&mut self, n: usize) -> Option<&'static mut [T]> {
        let bytes = n.checked_mul(core::mem::size_of::<T>())?;
        let p = es_alloc(bytes);
        if p == 0 {
            return None;
        }
        let s = unsafe { core::slice::from_raw_parts_mut(p as *mut T, n) };
        for v in s.iter_mut() {
            *v = T::default();
        }
        Some(s)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        es_release(self.mark);
    }
}

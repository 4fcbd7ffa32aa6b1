//! A first-fit free-list allocator for data that outlives one call (index segments, the id
//! map, pending documents).
//!
//! The bump heap of heap.rs is stack-like, which suits OMP's whole calls but not an index
//! whose segments are freed in any order when they are merged. This allocator takes its
//! memory from the bump heap and never gives it back there, so an instance that holds an
//! index must never call `es_release` (the JS loaders give every index its own instance).
//! Freed blocks are kept in an address-ordered list and coalesced with their neighbours.

use crate::heap::es_alloc;
use core::ptr::null_mut;

/// Header in front of every block; keeps the payload 16-byte aligned.
const HDR: usize = 16;
/// A split leaves no remainder smaller than this (header + some payload).
const MIN_SPLIT: usize = 64;

struct Free {
    size: usize,
    next: *mut Free,
}

static mut FREE: *mut Free = null_mut();

fn round16(n: usize) -> Option<usize> {
    n.checked_add(15).map(|v| v & !15)
}

/// Allocate `bytes` (16-byte aligned, contents undefined). Null when memory is exhausted.
pub fn alloc(bytes: usize) -> *mut u8 {
    let need = match round16(bytes).and_then(|b| b.checked_add(HDR)) {
        Some(n) => n,
        None => return null_mut(),
    };
    unsafe {
        let mut prev: *mut Free = null_mut();
        let mut cur = FREE;
        while !cur.is_null() {
            let size = (*cur).size;
            if size >= need {
                let next = (*cur).next;
                let taken = if size - need >= MIN_SPLIT {
                    let rest = (cur as *mut u8).add(need) as *mut Free;
                    (*rest).size = size - need;
                    (*rest).next = next;
                    link(prev, rest);
                    need
                } else {
                    link(prev, next);
                    size
                };
                *(cur as *mut usize) = taken;
                return (cur as *mut u8).add(HDR);
            }
            prev = cur;
            cur = (*cur).next;
        }
        let p = es_alloc(need);
        if p == 0 {
            return null_mut();
        }
        *(p as *mut usize) = need;
        (p as *mut u8).add(HDR)
    }
}

unsafe fn link(prev: *mut Free, to: *mut Free) {
    if prev.is_null() {
        FREE = to;
    } else {
        (*prev).next = to;
    }
}

/// Return a block from `alloc` (null is ignored).
pub fn free(p: *mut u8) {
    if p.is_null() {
        return;
    }
    unsafe {
        let blk = p.sub(HDR) as *mut Free;
        let size = *(blk as *mut usize);
        let mut prev: *mut Free = null_mut();
        let mut cur = FREE;
        while !cur.is_null() && (cur as usize) < (blk as usize) {
            prev = cur;
            cur = (*cur).next;
        }
        (*blk).size = size;
        (*blk).next = cur;
        if !cur.is_null() && blk as usize + size == cur as usize {
            (*blk).size += (*cur).size;
            (*blk).next = (*cur).next;
        }
        if !prev.is_null() && prev as usize + (*prev).size == blk as usize {
            (*prev).size += (*blk).size;
            (*prev).next = (*blk).next;
        } else {
            link(prev, blk);
        }
    }
}

/// A zeroed array of `n` elements, or None when memory is exhausted.
pub fn zeroed<T: Copy>(n: usize) -> Option<*mut T> {
    let bytes = n.checked_mul(core::mem::size_of::<T>())?;
    let p = alloc(bytes);
    if p.is_null() {
        return None;
    }
    unsafe { core::ptr::write_bytes(p, 0, bytes) };
    Some(p as *mut T)
}

/// A growable array in this allocator (the crate has no `alloc`, so no Vec).
pub struct Buf<T: Copy> {
    pub ptr: *mut T,
    pub len: usize,
    pub cap: usize,
}

impl<T: Copy> Buf<T> {
    pub const fn new() -> Self {
        Buf { ptr: null_mut(), len: 0, cap: 0 }
    }

    /// Make room for `extra` more elements; false when memory is exhausted.
    pub fn reserve(&mut self, extra: usize) -> bool {
        let want = match self.len.checked_add(extra) {
            Some(w) => w,
            None => return false,
        };
        if want <= self.cap {
            return true;
        }
        let cap = want.max(self.cap.saturating_mul(2)).max(16);
        let p = match zeroed::<T>(cap) {
            Some(p) => p,
            None => return false,
        };
        unsafe {
            if self.len > 0 {
                core::ptr::copy_nonoverlapping(self.ptr, p, self.len);
            }
        }
        free(self.ptr as *mut u8);
        self.ptr = p;
        self.cap = cap;
        true
    }

    /// Push after a successful `reserve`.
    #[inline(always)]
    pub fn push(&mut self, v: T) {
        debug_assert!(self.len < self.cap);
        unsafe { *self.ptr.add(self.len) = v };
        self.len += 1;
    }

    #[inline(always)]
    pub fn get(&self, i: usize) -> T {
        unsafe { *self.ptr.add(i) }
    }

    #[inline(always)]
    pub fn set(&mut self, i: usize, v: T) {
        unsafe { *self.ptr.add(i) = v }
    }

    pub fn release(&mut self) {
        free(self.ptr as *mut u8);
        *self = Buf::new();
    }

    pub fn bytes(&self) -> usize {
        self.cap * core::mem::size_of::<T>()
    }
}

/// For JS: buffers the loaders copy inputs into and results out of.
#[no_mangle]
pub extern "C" fn ix_alloc(bytes: usize) -> usize {
    alloc(bytes) as usize
}

#[no_mangle]
pub extern "C" fn ix_free(p: usize) {
    free(p as *mut u8)
}

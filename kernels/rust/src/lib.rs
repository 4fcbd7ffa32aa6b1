//! edgespec's Rust wasm module: subsystems that run as whole calls over their own data.
//!
//! The module owns its linear memory. The JS loader copies inputs in through `es_alloc`,
//! calls one entry point, copies the outputs out and releases the memory with
//! `es_release`. No crate, no `alloc`: a stack-like bump heap is all a whole call needs.
#![no_std]

mod build;
mod dense;
mod heap;
mod idmap;
mod ixmem;
mod maxscore;
mod omp;
mod postings;
mod segment;
mod sparse;
mod topk;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Inputs are validated in TypeScript; reaching here is a bug and traps loudly.
    core::arch::wasm32::unreachable()
}

pub use heap::{es_alloc, es_mark, es_release};
pub use dense::{dn_add, dn_compact, dn_contains, dn_delete, dn_detail, dn_info, dn_init, dn_load_begin, dn_load_end, dn_score, dn_search};
pub use ixmem::{ix_alloc, ix_free};
pub use omp::omp_batch;
pub use sparse::{sp_add, sp_contains, sp_delete, sp_detail, sp_flush, sp_init, sp_load_begin, sp_load_end, sp_optimize, sp_score, sp_search, sp_segment_info, sp_stats};

//! edgespec's Rust wasm module: subsystems that run as whole calls over their own data.
//!
//! The module owns its linear memory. The JS loader copies inputs in through `es_alloc`,
//! calls one entry point, copies the outputs out and releases the memory with
//! `es_release`. No crate, no `alloc`: a stack-like bump heap is all a whole call needs.
#![no_std]

mod heap;
mod omp;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Inputs are validated in TypeScript; reaching here is a bug and traps loudly.
    core::arch::wasm32::unreachable()
}

pub use heap::{es_alloc, es_mark, es_release};
pub use omp::omp_batch;

//! sd-bus cookie allocator: work in progress.
#![no_std]

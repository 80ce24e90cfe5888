//! Tests of the resource limits: the conversions and property plans (`conversions`), the
//! per-device I/O limits (`io_limits`), and the edges of the contracts the conversions
//! follow, with systemd's and runc's numbers written out (`contract_edges`).

mod contract_edges;
mod conversions;
mod io_limits;

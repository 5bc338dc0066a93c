//! Documents for people: consent proofs now; the Art. 30 records and AVV annexes build on the
//! same renderers.

pub mod pdf;

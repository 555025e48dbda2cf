//! State shared by instances through PostgreSQL (`pacing`, `rates`), against a
//! throwaway cluster: two pools on one database play instances A and B.

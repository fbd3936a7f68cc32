// mimalloc rather than glibc's malloc: admission and the sequencer allocate and free many small
// JSON values and records per event, and glibc's consolidation of freed chunks cost close to a
// fifth of the CPU in ingest profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    lotline::cli::main()
}

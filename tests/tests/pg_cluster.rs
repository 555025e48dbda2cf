//! The throwaway PostgreSQL cluster of the harness (`authgate_tests::pg`): it starts
//! on a loopback port of its own, accepts connections to its database, and leaves
//! nothing behind (no process, no directory) once dropped.

use authgate_tests::pg::{DATABASE, PgCluster, is_running};

#[test]
fn a_throwaway_cluster_starts_answers_and_is_removed() {
    let cluster = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(cluster.port(), 5432, "never the system cluster's port");
    assert!(cluster.url().starts_with("postgres://postgres@127.0.0.1:"));

    // A real connection, to the database it created, with fsync on.
    assert_eq!(cluster.psql("SELECT current_database()").unwrap(), DATABASE);
    assert_eq!(cluster.psql("SHOW fsync").unwrap(), "on");
    assert_eq!(cluster.psql("SHOW listen_addresses").unwrap(), "127.0.0.1");
    let socket_dir = cluster.psql("SHOW unix_socket_directories").unwrap();
    assert_eq!(std::path::Path::new(&socket_dir), cluster.dir());
    cluster
        .psql("CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
        .unwrap();
    assert_eq!(cluster.psql("SELECT x FROM t").unwrap(), "42");

    // Stopped and started again on the same port, the data is still there.
    cluster.stop().unwrap();
    assert!(cluster.psql("SELECT 1").is_err(), "down after stop");
    cluster.restart().unwrap();
    assert_eq!(cluster.psql("SELECT x FROM t").unwrap(), "42");

    let pid = cluster.pid().expect("postmaster.pid");
    let dir = cluster.dir().to_path_buf();
    let port = cluster.port();
    assert!(is_running(pid));
    drop(cluster);

    assert!(!dir.exists(), "the cluster directory is removed");
    assert!(!is_running(pid), "the postmaster is gone");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on its port any more"
    );
}

#[test]
fn two_clusters_run_side_by_side() {
    let a = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let b = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a.port(), b.port());
    a.psql("CREATE TABLE only_a (x int)").unwrap();
    assert!(b.psql("SELECT * FROM only_a").is_err(), "separate clusters");
}

/// Set in the child process of [`the_shared_cluster_is_removed_when_its_process_exits`].
const CHILD_ENV: &str = "AUTHGATE_TEST_SHARED_CLUSTER_CHILD";

/// Run as a child process only: starts the shared cluster, makes a database, prints
/// where the cluster lives, and exits without dropping anything.
#[test]
fn shared_cluster_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let cluster = authgate_tests::backend::shared_cluster();
    let url = authgate_tests::backend::fresh_database();
    let port = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap();
    println!("CLUSTER {} {port}", cluster.dir().display());
}

#[test]
fn the_shared_cluster_is_removed_when_its_process_exits() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "shared_cluster_child", "--nocapture"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CLUSTER "))
        .unwrap_or_else(|| panic!("no CLUSTER line in {stdout}"));
    let (dir, port) = line.rsplit_once(' ').unwrap();
    let dir = std::path::PathBuf::from(dir);
    let port: u16 = port.parse().unwrap();
    // The guard notices the exit and cleans up; a bounded wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (dir.exists() || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !dir.exists(),
        "the shared cluster's directory {dir:?} is removed"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on its port {port} any more"
    );
}

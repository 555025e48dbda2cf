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

//! A throwaway OpenLDAP server (Debian's `slapd`) for the login tests: its own
//! configuration and database in a temporary directory, on a free port of 127.0.0.1,
//! seeded with `ldapadd`. Skipped (with a message) when slapd is not installed, except
//! under CI (`CI` set), where a missing slapd fails the test.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=example,dc=org";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PW: &str = "Directory-Root-Secret-7";

pub struct Slapd {
    child: Child,
    pub url: String,
    /// With TLS: the `ldaps://` address and the CA (the self-signed certificate itself).
    pub ldaps_url: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SEED: &str = "\
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Zhang
sn: Zhang
mail: alice@example.org
userPassword: Alice-Secret-11

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob Li
sn: Li
userPassword: Bob-Secret-22

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol Wang
sn: Wang
userPassword: Carol-Secret-33

dn: uid=admin,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: admin
cn: Not The Admin
sn: Admin
userPassword: Directory-Admin-44

dn: cn=stewards,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: stewards
member: uid=alice,ou=people,dc=example,dc=org
member: uid=carol,ou=people,dc=example,dc=org
member: uid=admin,ou=people,dc=example,dc=org

dn: cn=clerks,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: clerks
member: uid=carol,ou=people,dc=example,dc=org
";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn write(path: &Path, text: &str) {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("write file");
}

/// A test CA (`ca.pem`) and a server certificate for 127.0.0.1 signed by it (`cert.pem`,
/// `key.pem`) in `dir`.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(ok.success(), "openssl {args:?} failed");
    };
    write(
        &dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=custos test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
}

/// The CA beside a server certificate made by [`make_certificates`].
fn slapd_dir_ca(cert: &Path) -> std::path::PathBuf {
    cert.with_file_name("ca.pem")
}

fn installed() -> bool {
    Path::new("/usr/sbin/slapd").exists()
        && Command::new("ldapadd")
            .arg("-VV")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

impl Slapd {
    /// A running, seeded server, or `None` (skipped) when slapd is not installed
    /// outside CI.
    pub fn start(test: &str) -> Option<Slapd> {
        Slapd::launch(test, false)
    }

    /// As [`Slapd::start`], also serving `ldaps://` and StartTLS with a self-signed
    /// certificate for 127.0.0.1 (made by `openssl`).
    pub fn start_tls(test: &str) -> Option<Slapd> {
        Slapd::launch(test, true)
    }

    fn launch(test: &str, tls: bool) -> Option<Slapd> {
        if !installed() {
            assert!(
                std::env::var_os("CI").is_none(),
                "LDAP tests need slapd and ldap-utils (apt-get install slapd ldap-utils)"
            );
            eprintln!("skipped {test}: slapd/ldap-utils not installed");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("db dir");
        let conf = dir.path().join("slapd.conf");
        write(
            &conf,
            &format!(
                "include /etc/ldap/schema/core.schema\n\
                 include /etc/ldap/schema/cosine.schema\n\
                 include /etc/ldap/schema/inetorgperson.schema\n\
                 pidfile {pid}\n\
                 modulepath /usr/lib/ldap\n\
                 moduleload back_mdb\n\
                 database mdb\n\
                 maxsize 10485760\n\
                 suffix \"{SUFFIX}\"\n\
                 rootdn \"{ADMIN_DN}\"\n\
                 rootpw {ADMIN_PW}\n\
                 directory {db}\n",
                pid = dir.path().join("slapd.pid").display(),
                db = db.display(),
            ),
        );
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        if tls {
            make_certificates(dir.path());
            let mut conf_text = std::fs::read_to_string(&conf).expect("conf");
            conf_text = format!(
                "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n{conf_text}",
                cert.display(),
                key.display()
            );
            write(&conf, &conf_text);
        }
        let port = free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let tls_port = free_port();
        let ldaps_url = tls.then(|| format!("ldaps://127.0.0.1:{tls_port}"));
        let mut listen = format!("{url}/");
        if let Some(u) = &ldaps_url {
            listen.push_str(&format!(" {u}/"));
        }
        // `-d 0`: stay in the foreground, so the child is the server and dies with it.
        let child = Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(&listen)
            .arg("-d")
            .arg("0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slapd");
        let slapd = Slapd {
            child,
            url,
            ldaps_url,
            ca_file: tls.then(|| slapd_dir_ca(&cert)),
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || (tls && std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err())
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "slapd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        slapd.ldif("ldapadd", SEED);
        Some(slapd)
    }

    /// Run `ldapadd`/`ldapmodify`/`ldapdelete` as the directory's root.
    pub fn ldif(&self, tool: &str, input: &str) {
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D", ADMIN_DN, "-w", ADMIN_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ldap tool");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write ldif");
        let out = child.wait_with_output().expect("ldap tool");
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stop the server (a directory that is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! A real OpenLDAP `slapd` for one test: its own temporary directory and a
//! free loopback port, loaded (offline, with `slapadd`) with a small
//! directory of people and groups. `scripts/test.sh` installs slapd.

use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app::core::settings::LdapSettings;

pub const BASE_DN: &str = "dc=berth,dc=test";
pub const READER_DN: &str = "cn=reader,dc=berth,dc=test";
pub const READER_PASSWORD: &str = "reader-pass";
pub const DEVELOPERS_DN: &str = "cn=developers,ou=groups,dc=berth,dc=test";
pub const ADMINS_DN: &str = "cn=admins,ou=groups,dc=berth,dc=test";
/// A username full of LDAP filter metacharacters.
pub const ODD_USERNAME: &str = "star*(ops)\\x";

/// (uid, password, display name, email) of the people in the directory.
pub const PEOPLE: [(&str, &str, &str, &str); 3] = [
    ("alice", "alice-pass", "Alice Liddell", "alice@berth.test"),
    ("bob", "bob-pass", "Bob Builder", "bob@berth.test"),
    (ODD_USERNAME, "odd-pass", "Odd One", "odd@berth.test"),
];

pub struct Slapd {
    child: Child,
    _dir: tempfile::TempDir,
    pub url: String,
    /// `ldaps://…`, when started with TLS.
    pub ldaps_url: Option<String>,
}

fn program(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]
        .iter()
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{name} must be installed (scripts/test.sh installs slapd)"))
}

/// A DN's value escaped for an LDIF `dn:` line or RDN (RFC 4514).
fn rdn_value(value: &str) -> String {
    value.chars().flat_map(|c| if "\\,+\"<>;=".contains(c) { vec!['\\', c] } else { vec![c] }).collect()
}

pub fn person_dn(uid: &str) -> String {
    format!("uid={},ou=people,{BASE_DN}", rdn_value(uid))
}

impl Slapd {
    pub async fn start() -> Self {
        Self::launch(false).await
    }

    /// Also serves `ldaps://` and StartTLS, with a self-signed certificate.
    pub async fn start_with_tls() -> Self {
        Self::launch(true).await
    }

    async fn launch(tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).unwrap();
        let mut config = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\npidfile {pid}\n\
             database mdb\nsuffix \"{BASE_DN}\"\nrootdn \"cn=admin,{BASE_DN}\"\nrootpw not-used-by-tests\n\
             directory {db}\nmaxsize 10485760\n",
            pid = dir.path().join("slapd.pid").display(),
            db = db.display(),
        );
        if tls {
            let cert =
                rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
            let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&cert_path, cert.cert.pem()).unwrap();
            std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
            config = format!(
                "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n{config}",
                cert_path.display(),
                key_path.display()
            );
        }
        let config_path = dir.path().join("slapd.conf");
        std::fs::write(&config_path, config).unwrap();

        let mut ldif = format!(
            "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: berth\ndc: berth\n\n\
             dn: ou=people,{BASE_DN}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,{BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n\n\
             dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\n\
             userPassword: {READER_PASSWORD}\n\n"
        );
        for (uid, password, name, mail) in PEOPLE {
            ldif.push_str(&format!(
                "dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {name}\ndisplayName: {name}\n\
                 mail: {mail}\nuserPassword: {password}\n\n",
                dn = person_dn(uid),
            ));
        }
        ldif.push_str(&format!(
            "dn: {DEVELOPERS_DN}\nobjectClass: groupOfNames\ncn: developers\nmember: {alice}\nmember: {odd}\n\n\
             dn: {ADMINS_DN}\nobjectClass: groupOfNames\ncn: admins\nmember: {bob}\n\n",
            alice = person_dn("alice"),
            odd = person_dn(ODD_USERNAME),
            bob = person_dn("bob"),
        ));
        let ldif_path = dir.path().join("seed.ldif");
        std::fs::write(&ldif_path, ldif).unwrap();
        let loaded = Command::new(program("slapadd"))
            .arg("-f")
            .arg(&config_path)
            .arg("-l")
            .arg(&ldif_path)
            .output()
            .expect("slapadd runs");
        assert!(loaded.status.success(), "slapadd failed: {}", String::from_utf8_lossy(&loaded.stderr));

        let free_port = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let port = free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let ldaps_port = tls.then(free_port);
        let ldaps_url = ldaps_port.map(|p| format!("ldaps://127.0.0.1:{p}"));
        let listeners = match &ldaps_url {
            Some(ldaps) => format!("{url}/ {ldaps}/"),
            None => format!("{url}/"),
        };
        // `-d 0` keeps slapd in the foreground, so it dies with this handle.
        let child = Command::new(program("slapd"))
            .arg("-f")
            .arg(&config_path)
            .arg("-h")
            .arg(listeners)
            .arg("-d")
            .arg("0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("slapd starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in std::iter::once(port).chain(ldaps_port) {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "slapd did not listen on port {port} within 20 s");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Self { child, _dir: dir, url, ldaps_url }
    }

    /// Settings for this directory: search as the reader account, users
    /// under ou=people, groups under ou=groups, `admins` as administrators.
    pub fn settings(&self) -> LdapSettings {
        LdapSettings {
            url: self.url.clone(),
            search_dn: READER_DN.to_owned(),
            search_password: READER_PASSWORD.to_owned(),
            base_dn: format!("ou=people,{BASE_DN}"),
            user_filter: "(objectClass=inetOrgPerson)".to_owned(),
            group_base_dn: format!("ou=groups,{BASE_DN}"),
            admin_group_dn: ADMINS_DN.to_owned(),
            ..LdapSettings::default()
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

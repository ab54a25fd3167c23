//! schemathesis (PyPI, installed by `scripts/test.sh` in the tools
//! virtualenv) generates requests for every operation of the served OpenAPI
//! document, as the first administrator, and checks that Berth never answers
//! with a server error, a status code, content type, header or body the
//! document does not describe. Password changes are left out: the generated
//! ones would change the password the run signs in with.

mod common;

use common::{ADMIN_PASSWORD, Backend, TestServer};

fn schemathesis() -> String {
    let python = std::env::var("BERTH_ORAS_PYTHON").unwrap_or_else(|_| {
        format!("{}/.cache/berth/tools-venv/bin/python", std::env::var("HOME").unwrap_or_default())
    });
    std::path::Path::new(&python).with_file_name("schemathesis").display().to_string()
}

async fn responses_match_the_openapi_document(backend: Backend) {
    let server = TestServer::start(backend).await;
    common::push_empty_image(&common::admin_client(), &server, "library/app", "v1").await;
    let (program, base) = (schemathesis(), server.base.clone());
    // schemathesis keeps a cache in its working directory: not in the checkout.
    let workdir = tempfile::tempdir().unwrap();
    let cwd = workdir.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(program)
            .current_dir(cwd)
            .args([
                "run",
                &format!("{base}/api/v2.0/openapi.json"),
                "--url",
                &base,
                "--auth",
                &format!("admin:{ADMIN_PASSWORD}"),
                "--max-examples",
                "8",
                "--workers",
                "1",
                "--seed",
                "7",
                "--exclude-path-regex",
                // Passwords change the test's own credentials; registries are
                // dialled on every create and ping (tested in rest_registries.rs).
                "/password$|/registries",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_schema_conformance,response_headers_conformance",
                "--no-color",
            ])
            .output()
    })
    .await
    .unwrap()
    .expect("schemathesis is installed (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await;
}

// One database is enough: the REST layer and the document are the same on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_responses_match_the_openapi_document() {
    common::within_time_limit(responses_match_the_openapi_document(Backend::Sqlite)).await
}

//! The Hire API client against a scripted local server: what each answer is classified as,
//! that nothing is ever sent twice, and that the header never shows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::config::HttpConfig;

const HEADER: &str = "Basic U0ktSElSRTpzaW0taGlyZS1zZWNyZXQ=";

/// What the server does once it has read a request.
#[derive(Clone, Copy)]
enum Script {
    /// Writes this status line's code, the extra header lines and the body, then closes.
    Answer(u16, &'static str, &'static str),
    /// Writes bytes that are no HTTP answer.
    Garbage,
    /// Closes the connection without answering.
    Close,
    /// Never answers.
    Hang,
}

/// A request as the server read it.
#[derive(Debug, Clone)]
struct Received {
    head: String,
    body: Vec<u8>,
}

struct Server {
    url: Url,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/hire-api/SIM-HIRE",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(handle(stream, script, log.clone()));
            }
        });
        Self { url, received }
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn only(&self) -> Received {
        let all = self.received.lock().unwrap();
        assert_eq!(all.len(), 1, "exactly one request");
        all[0].clone()
    }
}

async fn handle(mut stream: TcpStream, script: Script, log: Arc<Mutex<Vec<Received>>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buffer[head_end..head_end + length].to_vec();
    log.lock().unwrap().push(Received {
        head: head.clone(),
        body,
    });
    let reply = match script {
        Script::Answer(status, extra, body) => {
            // A refusal that echoes the request's headers, as a careless server might.
            let body = body.replace("{echo}", &head.replace("\r\n", " "));
            format!(
                "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
                body.len()
            )
        }
        Script::Garbage => "this is not HTTP at all\r\n\r\n".to_owned(),
        Script::Close => return,
        Script::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
    };
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn client(url: Url) -> HireApiClient {
    let http = HttpClient::new(&HttpConfig {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(700),
        // Retries in place are allowed for reads: a post must still go once.
        read_retries: 3,
        max_rate_limit_wait: Duration::from_secs(1),
    })
    .unwrap();
    let api = HireApiConfig {
        url,
        authorization: SecretString::from(HEADER.to_owned()),
    };
    HireApiClient::new(http, &api, RateLimit::unlimited())
}

fn document() -> HireDocument {
    use crate::hire::application::HiredApplication;
    let application = HiredApplication {
        id: "4242".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: "ada@example.com".into(),
        phone: None,
        job_title: Some("Engineer".into()),
        cv: None,
        updated_at: None,
        stage_id: None,
        hired_at: None,
        rejected_at: None,
        created_at: None,
        source: json!({}),
    };
    let employee = crate::employee::NewEmployee {
        first_name: "Ada".into(),
        surname: "Lovelace".into(),
        email: "ada@example.com".into(),
        site: "London".into(),
        start_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(),
        fields: Default::default(),
    };
    HireDocument::new(
        &application,
        &employee,
        "https://acme.pinpointhq.com/admin/applications/4242",
    )
}

/// Posts once to a server following `script`: the outcome and the server.
async fn post(script: Script) -> (Result<Delivered, HirePostError>, Server) {
    let server = Server::start(script).await;
    let outcome = client(server.url.clone()).post(&document()).await;
    (outcome, server)
}

#[tokio::test]
async fn a_post_sends_the_document_once_with_the_header_verbatim() {
    let (outcome, server) = post(Script::Answer(200, "", "{}")).await;
    assert_eq!(outcome, Ok(Delivered { status: 200 }));
    let request = server.only();
    assert!(
        request
            .head
            .starts_with("POST /hire-api/SIM-HIRE HTTP/1.1\r\n"),
        "{}",
        request.head
    );
    let head = request.head.to_ascii_lowercase();
    assert!(
        head.contains(&format!("authorization: {}", HEADER.to_ascii_lowercase())),
        "{}",
        request.head
    );
    assert!(head.contains("content-type: application/json"), "{head}");
    let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(&sent, document().json());
}

#[tokio::test]
async fn any_2xx_is_delivered_whatever_its_body() {
    for script in [
        Script::Answer(201, "content-type: text/html\r\n", "<html>queued</html>"),
        Script::Answer(202, "", "not json at all"),
        Script::Answer(204, "", ""),
    ] {
        let (outcome, server) = post(script).await;
        assert!(outcome.is_ok(), "{outcome:?}");
        assert_eq!(server.count(), 1);
    }
}

#[tokio::test]
async fn a_refused_header_is_a_credential_error_and_stops_the_pass_until_the_next() {
    let server = Server::start(Script::Answer(401, "", "")).await;
    let client = client(server.url.clone());
    let first = client.post(&document()).await.unwrap_err();
    assert!(
        matches!(first, HirePostError::Credential { status: 401, .. }),
        "{first:?}"
    );
    assert!(
        first.to_string().contains("HIBOB_HIRE_API_AUTHORIZATION"),
        "{first}"
    );
    assert!(!first.may_have_been_delivered());
    // The rest of the pass sends nothing.
    let second = client.post(&document()).await.unwrap_err();
    assert!(matches!(second, HirePostError::Halted { .. }), "{second:?}");
    assert_eq!(server.count(), 1);
    // A new pass tries again (the header may have been fixed).
    client.begin_pass();
    let third = client.post(&document()).await.unwrap_err();
    assert!(
        matches!(third, HirePostError::Credential { .. }),
        "{third:?}"
    );
    assert_eq!(server.count(), 2);

    let (forbidden, _) = post(Script::Answer(403, "", "")).await;
    assert!(
        matches!(
            forbidden,
            Err(HirePostError::Credential { status: 403, .. })
        ),
        "{forbidden:?}"
    );
}

#[tokio::test]
async fn other_refusals_carry_bobs_message() {
    let (outcome, server) = post(Script::Answer(
        400,
        "content-type: application/json\r\n",
        r#"{"error": "the payload has no firstName"}"#,
    ))
    .await;
    match outcome {
        Err(HirePostError::Refused {
            status: 400,
            message,
        }) => {
            assert!(
                message.contains("the payload has no firstName"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(), 1);
    let (outcome, _) = post(Script::Answer(422, "", "unprocessable")).await;
    assert!(
        matches!(&outcome, Err(HirePostError::Refused { status: 422, message }) if message.contains("unprocessable")),
        "{outcome:?}"
    );
    let (outcome, _) = post(Script::Answer(404, "", "")).await;
    assert!(
        matches!(&outcome, Err(HirePostError::Refused { status: 404, message }) if message.contains("hibob.hire_api_url")),
        "{outcome:?}"
    );
}

/// Sent, outcome unknown: never sent again by the client, whatever `http.read_retries` says.
#[tokio::test]
async fn an_ambiguous_post_is_never_sent_again() {
    for (script, says) in [
        (Script::Answer(500, "", "oops"), "server error 500"),
        (
            Script::Answer(503, "retry-after: 0\r\n", ""),
            "server error 503",
        ),
        (Script::Answer(408, "", ""), "server error 408"),
        (Script::Close, ""),
        (Script::Garbage, ""),
        (Script::Hang, "timed out"),
    ] {
        let (outcome, server) = post(script).await;
        let error = outcome.unwrap_err();
        assert!(error.may_have_been_delivered(), "{error:?}");
        assert!(
            matches!(&error, HirePostError::Ambiguous { reason } if reason.contains(says)),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("delivery unconfirmed"),
            "{error}"
        );
        assert_eq!(server.count(), 1, "{error:?}: sent once only");
    }
}

#[tokio::test]
async fn a_rate_limited_post_is_not_sent_and_not_retried_in_place() {
    let (outcome, server) = post(Script::Answer(429, "retry-after: 7\r\n", "")).await;
    match outcome {
        Err(HirePostError::NotSent { after, .. }) => {
            assert_eq!(after, Some(Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_post_that_cannot_connect_was_not_sent() {
    // A port nobody listens on: bound, then released.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = Url::parse(&format!("http://{addr}/hire-api/SIM-HIRE")).unwrap();
    let error = client(url).post(&document()).await.unwrap_err();
    assert!(
        matches!(&error, HirePostError::NotSent { reason, .. } if reason.contains("could not connect")),
        "{error:?}"
    );
    assert!(!error.may_have_been_delivered());
}

#[tokio::test]
async fn neither_the_header_nor_the_url_shows_in_any_error() {
    let scripts = [
        Script::Answer(400, "", "you sent {echo}"),
        Script::Answer(401, "", "{echo}"),
        Script::Answer(500, "", "{echo}"),
        Script::Answer(404, "", "{echo}"),
        Script::Close,
    ];
    let token = HEADER.split_once(' ').unwrap().1;
    for script in scripts {
        let (outcome, _) = post(script).await;
        let error = outcome.unwrap_err();
        let shown = format!("{error} {error:?} {}", ApiError::from(error.clone()));
        assert!(!shown.contains(token), "{shown}");
        assert!(
            !shown.contains("SIM-HIRE"),
            "the URL names the integration: {shown}"
        );
    }
}

#[test]
fn every_class_maps_back_to_the_http_layers_class() {
    let back = |e: HirePostError| ApiError::from(e);
    assert!(matches!(
        back(HirePostError::NotSent {
            reason: "x".into(),
            after: None
        }),
        ApiError::Retryable { .. }
    ));
    assert!(matches!(
        back(HirePostError::Credential {
            status: 401,
            hint: "x".into()
        }),
        ApiError::Unauthorized { status: 401, .. }
    ));
    assert!(matches!(
        back(HirePostError::Refused {
            status: 400,
            message: "x".into()
        }),
        ApiError::Invalid { status: 400, .. }
    ));
    assert!(matches!(
        back(HirePostError::Ambiguous { reason: "x".into() }),
        ApiError::Ambiguous { .. }
    ));
    assert!(matches!(
        back(HirePostError::Halted { reason: "x".into() }),
        ApiError::Halted { .. }
    ));
}

#[test]
fn the_configured_client_exists_only_with_a_hire_api_and_keeps_its_gate_on_reload() {
    let mut config = crate::config::Config::simulated(
        "http://127.0.0.1:1/pinpoint",
        "http://127.0.0.1:1/hibob",
        "k",
        ("id", "token"),
        std::path::Path::new("l"),
    )
    .unwrap();
    let http = HttpClient::new(&config.http).unwrap();
    assert!(HireApiClient::from_config(http.clone(), &config.hibob).is_none());
    config.hibob.hire_api = Some(HireApiConfig {
        url: Url::parse("http://127.0.0.1:1/hire-api/SIM-HIRE").unwrap(),
        authorization: SecretString::from(HEADER.to_owned()),
    });
    let old = HireApiClient::from_config(http.clone(), &config.hibob).unwrap();
    let same = HireApiClient::from_config(http.clone(), &config.hibob)
        .unwrap()
        .keeping_gate_of(&old);
    assert!(Arc::ptr_eq(&same.gate, &old.gate));
    config.hibob.rate_limit = RateLimit::parse("k", "1/1m").unwrap();
    let slower = HireApiClient::from_config(http, &config.hibob)
        .unwrap()
        .keeping_gate_of(&old);
    assert!(!Arc::ptr_eq(&slower.gate, &old.gate));
}

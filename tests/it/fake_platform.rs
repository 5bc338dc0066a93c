//! A local stand-in for the platforms' APIs: records every request and answers with scripted
//! responses in the real formats (default: success).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub headers: Vec<(String, String)>,
    pub raw: Vec<u8>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    script: VecDeque<(u16, Value)>,
    counter: u64,
    /// Fixed answers by path: a queue, the last one repeats.
    routes: std::collections::HashMap<String, VecDeque<(u16, Vec<u8>, String)>>,
    /// How long each answer takes (a slow platform).
    delay: std::time::Duration,
}

pub struct FakePlatform {
    pub base: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let delay = state.lock().unwrap().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = state.lock().unwrap();
    let path = req.path().to_string();
    s.requests.push(Recorded {
        method: req.method().to_string(),
        path: path.clone(),
        query: req.query_string().to_string(),
        authorization: req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string()),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        raw: body.to_vec(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    s.counter += 1;
    let n = s.counter;
    if let Some(queue) = s.routes.get_mut(&path) {
        let (status, body, content_type) = if queue.len() > 1 {
            queue.pop_front().unwrap()
        } else {
            queue[0].clone()
        };
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type(content_type)
            .body(body);
    }
    let (status, body) = s.script.pop_front().unwrap_or_else(|| {
        if path.contains("/bot") {
            (200, json!({"ok": true, "result": {"message_id": 500 + n, "chat": {"id": 1}, "date": 1764151200}}))
        } else if path.ends_with("/me/messages") {
            (200, json!({"recipient_id": "psid", "message_id": format!("m_fake{n}")}))
        } else {
            (200, json!({"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}], "messages": [{"id": format!("wamid.FAKE{n}")}]}))
        }
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

impl FakePlatform {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// The next answers, in order; after them the default success.
    pub fn script(&self, answers: Vec<(u16, Value)>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// Answers requests for `path` with these responses in turn (the last one repeats).
    pub fn route(&self, path: &str, answers: Vec<(u16, Vec<u8>, &str)>) {
        self.state.lock().unwrap().routes.insert(
            path.to_string(),
            answers
                .into_iter()
                .map(|(s, b, c)| (s, b, c.to_string()))
                .collect(),
        );
    }

    /// Every answer from now on takes `delay`.
    pub fn slow_down(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

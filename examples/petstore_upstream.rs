//! A tiny in-memory pet store that implements `examples/petstore/openapi.yaml` on 127.0.0.1:9000, so
//! the Petstore example runs without any outside service: `examples/petstore/run.sh`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

type Pets = Arc<Mutex<BTreeMap<String, Value>>>;

#[tokio::main]
async fn main() {
    let address = std::env::var("PETSTORE_LISTEN").unwrap_or_else(|_| "127.0.0.1:9000".to_string());
    let pets: Pets = Arc::default();
    for (id, name, species) in [("1", "Rex", "dog"), ("2", "Tom", "cat"), ("3", "Tweety", "bird")] {
        pets.lock().unwrap().insert(id.to_string(), json!({"id": id, "name": name, "species": species}));
    }
    let app = Router::new()
        .route("/v1/pets", get(list).post(create))
        .route("/v1/pets/{id}", get(show).delete(remove))
        .with_state(pets);
    let listener = tokio::net::TcpListener::bind(&address).await.expect("bind the pet store");
    eprintln!("petstore upstream: http://{address}/v1");
    axum::serve(listener, app).await.expect("serve the pet store");
}

async fn list(State(pets): State<Pets>, Query(query): Query<BTreeMap<String, String>>) -> impl IntoResponse {
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20).clamp(1, 100);
    let after = query.get("cursor").cloned().unwrap_or_default();
    let pets = pets.lock().unwrap();
    let page: Vec<Value> =
        pets.range(after.clone()..).filter(|(id, _)| **id != after).take(limit).map(|(_, p)| p.clone()).collect();
    let next = page.last().and_then(|p| p["id"].as_str()).filter(|last| pets.range(last.to_string()..).count() > 1);
    axum::Json(json!({"data": page, "next_cursor": next}))
}

async fn create(State(pets): State<Pets>, axum::Json(mut pet): axum::Json<Value>) -> impl IntoResponse {
    let Some(name) = pet.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"errors": [{"field": "name", "message": "is required"}]})),
        );
    };
    let _ = name;
    let mut pets = pets.lock().unwrap();
    let id = (pets.len() + 1).to_string();
    pet["id"] = json!(id);
    pets.insert(id, pet.clone());
    (StatusCode::CREATED, axum::Json(pet))
}

async fn show(State(pets): State<Pets>, Path(id): Path<String>) -> impl IntoResponse {
    match pets.lock().unwrap().get(&id) {
        Some(pet) => (StatusCode::OK, axum::Json(pet.clone())),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"message": format!("no pet with id {id}")}))),
    }
}

async fn remove(State(pets): State<Pets>, Path(id): Path<String>) -> StatusCode {
    match pets.lock().unwrap().remove(&id) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

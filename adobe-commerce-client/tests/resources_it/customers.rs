use adobe_commerce_client::models::CustomerId;
use adobe_commerce_client::{Error, Filter, SearchCriteria};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{self, Collection, fixture};

#[tokio::test]
async fn get_customer() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/customers/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("customer.json")))
        .expect(1)
        .mount(&server)
        .await;
    let customer = support::client(&server)
        .customers()
        .get(CustomerId(42))
        .send()
        .await
        .expect("customer");
    assert_eq!(customer.email.as_deref(), Some("jane.doe@example.com"));
    assert_eq!(
        customer.custom_attribute("syspro_customer_code"),
        Some(&json!("JDOE01"))
    );
}

#[tokio::test]
async fn search_customers_uses_the_search_path() {
    let server = support::server().await;
    Mock::given(method("GET"))
        .and(path("/rest/V1/customers/search"))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][field]",
            "email",
        ))
        .and(query_param(
            "searchCriteria[filter_groups][0][filters][0][value]",
            "jane.doe@example.com",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": [fixture("customer.json")],
            "search_criteria": {"filter_groups": []},
            "total_count": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = support::client(&server)
        .customers()
        .search(SearchCriteria::new().filter(Filter::eq("email", "jane.doe@example.com")))
        .send()
        .await
        .expect("page");
    assert_eq!(page.items[0].id, Some(CustomerId(42)));
}

#[tokio::test]
async fn stream_customers() {
    let server = support::server().await;
    let customers = (1..=5)
        .map(|id| json!({"id": id, "email": format!("c{id}@example.com"), "firstname": "A", "lastname": "B"}))
        .collect();
    let collection = Collection::new(customers);
    Mock::given(method("GET"))
        .and(path("/rest/V1/customers/search"))
        .respond_with(collection.responder())
        .expect(2)
        .mount(&server)
        .await;
    let all: Vec<_> = support::client(&server)
        .customers()
        .search(SearchCriteria::new().page_size(3))
        .stream()
        .try_collect()
        .await
        .expect("customers");
    let ids = support::ids_of(&all, |c| c.id.map(|i| i.get()));
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn update_custom_attribute_reads_then_puts_the_whole_customer() {
    let server = support::server().await;
    let mut current = fixture("customer.json");
    // A field this crate does not model must survive the round trip.
    current["extension_attributes"]["company_attributes"] = json!({"company_id": 9, "status": 1});
    Mock::given(method("GET"))
        .and(path("/rest/V1/customers/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(current.clone()))
        .expect(1)
        .mount(&server)
        .await;

    let mut expected = current.clone();
    expected["custom_attributes"][0]["value"] = json!("JDOE99");
    let mut saved = expected.clone();
    saved["updated_at"] = json!("2026-03-11 12:00:00");
    Mock::given(method("PUT"))
        .and(path("/rest/V1/customers/42"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({ "customer": expected })))
        .respond_with(ResponseTemplate::new(200).set_body_json(saved))
        .expect(1)
        .mount(&server)
        .await;

    let customer = support::client(&server)
        .customers()
        .update_custom_attribute(CustomerId(42), "syspro_customer_code", "JDOE99")
        .send()
        .await
        .expect("updated customer");
    assert_eq!(
        customer.custom_attribute("syspro_customer_code"),
        Some(&json!("JDOE99"))
    );
    assert_eq!(
        customer.custom_attribute("preferred_branches"),
        Some(&json!(["10", "20"]))
    );
}

#[tokio::test]
async fn update_custom_attribute_appends_a_new_attribute() {
    let server = support::server().await;
    let mut current = fixture("customer.json");
    current.as_object_mut().unwrap().remove("custom_attributes");
    Mock::given(method("GET"))
        .and(path("/rest/default/V1/customers/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(current.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let mut expected = current.clone();
    expected["custom_attributes"] =
        json!([{"attribute_code": "syspro_customer_code", "value": "NEW01"}]);
    Mock::given(method("PUT"))
        .and(path("/rest/default/V1/customers/42"))
        .and(body_json(json!({ "customer": expected.clone() })))
        .respond_with(ResponseTemplate::new(200).set_body_json(expected))
        .expect(1)
        .mount(&server)
        .await;
    let customer = support::client(&server)
        .with_store("default")
        .customers()
        .update_custom_attribute(CustomerId(42), "syspro_customer_code", "NEW01")
        .send()
        .await
        .expect("updated");
    assert_eq!(
        customer.custom_attribute("syspro_customer_code"),
        Some(&json!("NEW01"))
    );
}

#[tokio::test]
async fn update_custom_attribute_rejects_an_empty_code_without_sending() {
    let server = support::server().await;
    let err = support::client(&server)
        .customers()
        .update_custom_attribute(CustomerId(42), " ", "X")
        .send()
        .await
        .expect_err("invalid");
    assert!(
        matches!(&err, Error::InvalidInput { field, .. } if field == "attribute_code"),
        "{err:?}"
    );
}

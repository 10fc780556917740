//! Decoding tests against the fixtures in `tests/fixtures/resources/`.

use rust_decimal::Decimal;
use time::macros::datetime;

use super::*;

const ORDER: &str = include_str!("../../tests/fixtures/resources/order_configurable_bundle.json");
const GUEST_ORDER: &str = include_str!("../../tests/fixtures/resources/order_guest.json");
const NULL_ORDER: &str = include_str!("../../tests/fixtures/resources/order_nulls.json");
const INVOICE: &str = include_str!("../../tests/fixtures/resources/invoice.json");
const CREDIT_MEMO: &str = include_str!("../../tests/fixtures/resources/credit_memo.json");
const CUSTOMER: &str = include_str!("../../tests/fixtures/resources/customer.json");
const PRODUCT: &str = include_str!("../../tests/fixtures/resources/product.json");

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("test decimal")
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> T {
    let de = &mut serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize(de) {
        Ok(value) => value,
        Err(err) => panic!("decode failed at {}: {}", err.path(), err.inner()),
    }
}

fn sum(values: impl Iterator<Item = Option<Decimal>>) -> Decimal {
    values.map(Option::unwrap_or_default).sum()
}

#[test]
fn order_header_fields_decode() {
    let order: Order = decode(ORDER);
    assert_eq!(order.entity_id, Some(OrderId(1001)));
    assert_eq!(order.increment_id.as_deref(), Some("000001001"));
    assert_eq!(order.state, Some(OrderState::Processing));
    assert_eq!(order.status, Some(OrderStatus::Processing));
    assert_eq!(order.store_id, Some(StoreId(1)));
    assert_eq!(order.customer_id, Some(CustomerId(42)));
    assert_eq!(order.customer_is_guest, Some(false));
    assert!(!order.is_guest());
    assert_eq!(
        order.customer_email.as_deref(),
        Some("jane.doe@example.com")
    );
    assert_eq!(order.order_currency_code.as_deref(), Some("USD"));
    assert_eq!(order.created_at, Some(datetime!(2026-03-02 14:05:11 UTC)));
    assert_eq!(order.updated_at, Some(datetime!(2026-03-02 14:07:45 UTC)));
    assert_eq!(order.grand_total, Some(dec("163.94")));
    assert_eq!(order.base_grand_total, Some(dec("163.94")));
    assert_eq!(order.subtotal, Some(dec("147")));
    assert_eq!(order.shipping_amount, Some(dec("10")));
    assert_eq!(order.shipping_tax_amount, Some(dec("0")));
    assert_eq!(order.discount_amount, Some(dec("-5.2")));
    assert_eq!(order.tax_amount, Some(dec("12.14")));
    assert_eq!(order.items.len(), 6);
}

#[test]
fn float_noise_is_kept_exactly() {
    let order: Order = decode(ORDER);
    let payment = order.payment.expect("payment");
    assert_eq!(payment.amount_ordered, Some(dec("163.94000000000003")));
    assert_eq!(payment.base_amount_ordered, Some(dec("163.94")));
    assert_eq!(payment.method.as_deref(), Some("checkmo"));
    assert_eq!(payment.account_status, None);
    assert_eq!(payment.cc_last4, None);
    assert_eq!(
        payment.additional_information,
        vec!["Check / Money order".to_owned()]
    );
}

#[test]
fn parent_and_child_lines_are_preserved() {
    let order: Order = decode(ORDER);
    let child = order.item(OrderItemId(13)).expect("configurable child");
    assert_eq!(child.parent_item_id, Some(OrderItemId(12)));
    assert_eq!(child.product_type, Some(ProductType::Simple));
    let parent = child.parent_item.as_deref().expect("parent copy");
    assert_eq!(parent.product_type, Some(ProductType::Configurable));
    assert_eq!(order.children_of(OrderItemId(14)).count(), 2);
    assert!(
        order
            .item(OrderItemId(12))
            .unwrap()
            .product_option
            .is_some()
    );
}

#[test]
fn priced_items_count_each_product_once() {
    let order: Order = decode(ORDER);
    let roles: Vec<(u64, LineRole)> = order
        .items
        .iter()
        .map(|item| (item.item_id.unwrap().get(), order.line_role(item)))
        .collect();
    assert_eq!(
        roles,
        vec![
            (11, LineRole::Priced),
            (12, LineRole::Priced),
            (14, LineRole::PricedByChildren),
            (15, LineRole::Priced),
            (16, LineRole::Priced),
            (13, LineRole::PricedByParent),
        ]
    );
    let priced: Vec<&OrderItem> = order.priced_items().collect();
    assert_eq!(
        sum(priced.iter().map(|i| i.row_total)),
        order.subtotal.unwrap()
    );
    assert_eq!(
        sum(priced.iter().map(|i| i.tax_amount)),
        order.tax_amount.unwrap()
    );
    assert_eq!(
        -sum(priced.iter().map(|i| i.discount_amount)),
        order.discount_amount.unwrap()
    );
    // Summing every line would double-count the kit.
    assert_ne!(
        sum(order.items.iter().map(|i| i.row_total)),
        order.subtotal.unwrap()
    );
}

#[test]
fn fixed_price_bundle_is_priced_on_the_parent() {
    let mut order: Order = decode(ORDER);
    for item in &mut order.items {
        if item.parent_item_id == Some(OrderItemId(14)) {
            item.price = Some(Decimal::ZERO);
            item.row_total = Some(Decimal::ZERO);
            item.base_row_total = Some(Decimal::ZERO);
        }
    }
    assert_eq!(order.role_of(OrderItemId(14)), Some(LineRole::Priced));
    assert_eq!(
        order.role_of(OrderItemId(15)),
        Some(LineRole::PricedByParent)
    );
}

#[test]
fn shipping_assignment_is_typed_and_other_extensions_kept() {
    let order: Order = decode(ORDER);
    let shipping = order.primary_shipping().expect("shipping");
    assert_eq!(shipping.method.as_deref(), Some("flatrate_flatrate"));
    let total = shipping.total.as_ref().expect("total");
    assert_eq!(total.shipping_amount, Some(dec("10")));
    assert_eq!(total.shipping_tax_amount, Some(dec("0")));
    let address = order.shipping_address().expect("address");
    assert_eq!(address.address_type, Some(AddressType::Shipping));
    assert_eq!(
        address.street,
        vec!["123 Oak Ave".to_owned(), "Suite 4".to_owned()]
    );
    let ext = order.extension_attributes.as_ref().unwrap();
    assert!(ext.other.contains_key("applied_taxes"));
    assert_eq!(ext.other["gw_base_price"], serde_json::json!("0.0000"));
    assert_eq!(
        ext.payment_additional_info[0].key.as_deref(),
        Some("method_title")
    );
    assert_eq!(order.status_histories[0].is_customer_notified, None);
}

fn extension_attributes(json: &str) -> Result<OrderExtensionAttributes, String> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|err| format!("{}: {}", err.path(), err.inner()))
}

#[test]
fn extension_attributes_read_null_lists_as_empty_and_keep_the_rest_verbatim() {
    let ext = extension_attributes(
        r#"{"gift_cards": null, "shipping_assignments": null, "applied_taxes": [{"code": "US"}],
            "payment_additional_info": [{"key": "method_title", "value": "Card"}]}"#,
    )
    .expect("decodes");
    assert!(ext.shipping_assignments.is_empty());
    assert_eq!(
        ext.payment_additional_info[0].value.as_deref(),
        Some("Card")
    );
    assert_eq!(
        serde_json::Value::Object(ext.other.clone()),
        serde_json::json!({"gift_cards": null, "applied_taxes": [{"code": "US"}]})
    );
    let empty = extension_attributes("{}").expect("decodes");
    assert!(empty.shipping_assignments.is_empty() && empty.payment_additional_info.is_empty());
    assert!(empty.other.is_empty());
    // Written back, the typed lists and the other attributes sit side by side, as they came.
    let text = serde_json::to_string(&ext).unwrap();
    assert_eq!(extension_attributes(&text).expect("decodes again"), ext);
    assert!(
        text.contains(r#""applied_taxes":[{"code":"US"}]"#),
        "{text}"
    );
}

#[test]
fn a_bad_value_inside_a_shipping_assignment_is_reported_with_its_whole_path() {
    let json = ORDER.replace(
        "\"shipping_amount\": 10,\n            \"shipping_discount_amount\"",
        "\"shipping_amount\": \"ten\",\n            \"shipping_discount_amount\"",
    );
    assert_ne!(json, ORDER, "fixture edit must apply");
    let de = &mut serde_json::Deserializer::from_str(&json);
    let err = serde_path_to_error::deserialize::<_, Order>(de).unwrap_err();
    assert_eq!(
        err.path().to_string(),
        "extension_attributes.shipping_assignments[0].shipping.total.shipping_amount"
    );
    assert!(err.inner().to_string().contains("ten"), "{err}");
}

#[test]
fn extension_attributes_refuse_a_repeated_typed_field_and_a_non_object() {
    let twice = extension_attributes(r#"{"shipping_assignments": [], "shipping_assignments": []}"#);
    assert!(
        twice
            .unwrap_err()
            .contains("duplicate field `shipping_assignments`")
    );
    let twice =
        extension_attributes(r#"{"payment_additional_info": [], "payment_additional_info": null}"#);
    assert!(
        twice
            .unwrap_err()
            .contains("duplicate field `payment_additional_info`")
    );
    let list = extension_attributes("[]").unwrap_err();
    assert!(
        list.contains("expected struct OrderExtensionAttributes"),
        "{list}"
    );
}

#[test]
fn guest_order_decodes() {
    let order: Order = decode(GUEST_ORDER);
    assert!(order.is_guest());
    assert_eq!(order.customer_id, None);
    assert_eq!(order.customer_is_guest, Some(true));
    assert_eq!(order.is_virtual, Some(true));
    assert_eq!(
        order.status,
        Some(OrderStatus::Unknown("awaiting_review".into()))
    );
    assert_eq!(order.increment_id.as_deref(), Some("WA0001002"));
    assert_eq!(order.grand_total, Some(dec("21.64")));
    assert_eq!(order.shipping_address(), None);
    let billing = order.billing_address.as_ref().unwrap();
    assert_eq!(billing.postcode.as_deref(), Some("10115"));
    assert_eq!(billing.telephone.as_deref(), Some(""));
    assert_eq!(order.priced_items().count(), 1);
}

#[test]
fn explicit_nulls_in_required_fields_are_tolerated() {
    let order: Order = decode(NULL_ORDER);
    assert_eq!(order.grand_total, None);
    assert_eq!(order.customer_email, None);
    assert!(order.items.is_empty());
    assert_eq!(order.updated_at, None);
    assert_eq!(order.extension_attributes, None);
    let billing = order.billing_address.unwrap();
    assert_eq!(billing.city, None);
    assert!(billing.street.is_empty());
    let payment = order.payment.unwrap();
    assert!(payment.additional_information.is_empty());
    assert_eq!(payment.method, None);
    assert_eq!(order.status_histories[0].comment, None);
}

#[test]
fn bad_timestamp_reports_the_json_path_and_value() {
    let json = ORDER.replace(
        "\"2026-03-02 14:07:45\",\n  \"weight\"",
        "\"02/03/2026\",\n  \"weight\"",
    );
    assert_ne!(json, ORDER, "fixture edit must apply");
    let de = &mut serde_json::Deserializer::from_str(&json);
    let err = serde_path_to_error::deserialize::<_, Order>(de).unwrap_err();
    assert_eq!(err.path().to_string(), "updated_at");
    assert!(err.inner().to_string().contains("`02/03/2026`"), "{err}");
}

#[test]
fn invoice_decodes_and_prices_lines_via_the_order() {
    let invoice: Invoice = decode(INVOICE);
    let order: Order = decode(ORDER);
    assert_eq!(invoice.entity_id, Some(InvoiceId(501)));
    assert_eq!(invoice.order_id, Some(OrderId(1001)));
    assert_eq!(invoice.state, Some(InvoiceState::Paid));
    assert_eq!(invoice.can_void_flag, Some(false));
    assert_eq!(invoice.total_qty, Some(dec("6")));
    let kit = invoice
        .items
        .iter()
        .find(|i| i.order_item_id == Some(OrderItemId(14)))
        .unwrap();
    assert_eq!(kit.row_total, None, "bundle parent line has no row totals");
    let priced: Vec<&InvoiceItem> = invoice.priced_items(&order).collect();
    assert_eq!(priced.len(), 4);
    assert_eq!(
        sum(priced.iter().map(|i| i.row_total)),
        invoice.subtotal.unwrap()
    );
    assert_eq!(
        sum(priced.iter().map(|i| i.tax_amount)),
        invoice.tax_amount.unwrap()
    );
    assert_eq!(
        invoice.comments[0].comment.as_deref(),
        Some("Paid by cheque.")
    );
}

#[test]
fn credit_memo_decodes() {
    let memo: CreditMemo = decode(CREDIT_MEMO);
    let order: Order = decode(ORDER);
    assert_eq!(memo.entity_id, Some(CreditMemoId(301)));
    assert_eq!(memo.invoice_id, Some(InvoiceId(501)));
    assert_eq!(memo.state, Some(CreditMemoState::Refunded));
    assert_eq!(memo.creditmemo_status, None);
    assert_eq!(memo.adjustment_negative, Some(dec("1.5")));
    assert_eq!(memo.grand_total, Some(dec("25.57")));
    let priced: Vec<&CreditMemoItem> = memo.priced_items(&order).collect();
    assert_eq!(priced.len(), 1);
    assert_eq!(
        priced[0].row_total.unwrap() + priced[0].tax_amount.unwrap()
            - memo.adjustment_negative.unwrap(),
        memo.grand_total.unwrap()
    );
}

#[test]
fn customer_decodes_with_custom_attributes() {
    let customer: Customer = decode(CUSTOMER);
    assert_eq!(customer.id, Some(CustomerId(42)));
    assert_eq!(customer.website_id, Some(WebsiteId(1)));
    assert_eq!(customer.default_billing.as_deref(), Some("7"));
    assert_eq!(customer.disable_auto_group_change, Some(false));
    assert_eq!(
        customer.custom_attribute("syspro_customer_code"),
        Some(&serde_json::json!("JDOE01"))
    );
    assert_eq!(
        customer.custom_attribute("preferred_branches"),
        Some(&serde_json::json!(["10", "20"]))
    );
    assert_eq!(customer.custom_attribute("missing"), None);
    let address = customer.default_billing_address().unwrap();
    assert_eq!(address.default_billing, Some(true));
    assert_eq!(
        address.region.as_ref().unwrap().region_code.as_deref(),
        Some("NY")
    );
}

#[test]
fn product_decodes() {
    let product: Product = decode(PRODUCT);
    assert_eq!(product.id, Some(ProductId(610)));
    assert_eq!(product.sku.as_deref(), Some("HD01/M"));
    assert_eq!(product.price, Some(dec("52")));
    assert_eq!(product.status, Some(ProductStatus::Enabled));
    assert_eq!(product.visibility, Some(ProductVisibility::CatalogSearch));
    assert_eq!(product.type_id, Some(ProductType::Configurable));
    assert_eq!(
        product.custom_attribute("category_ids"),
        Some(&serde_json::json!(["15", "22"]))
    );
    assert_eq!(
        product.extension_attributes.as_ref().unwrap()["website_ids"],
        serde_json::json!([1])
    );
}

#[test]
fn serialisation_round_trips_exactly() {
    let order: Order = decode(ORDER);
    let json = serde_json::to_string(&order).unwrap();
    assert!(
        json.contains("\"grand_total\":\"163.94\""),
        "decimals as strings"
    );
    assert!(json.contains("\"updated_at\":\"2026-03-02 14:07:45\""));
    let again: Order = decode(&json);
    assert_eq!(again, order);
}

#[test]
fn search_results_envelope_decodes() {
    let json = format!(
        r#"{{"items":[{ORDER}],"search_criteria":{{"filter_groups":[]}},"total_count":"1"}}"#
    );
    let page: SearchResults<Order> = decode(&json);
    assert_eq!(page.total_count, Some(1));
    assert_eq!(page.items.len(), 1);
    let empty: SearchResults<Order> = decode(r#"{"items":null,"total_count":0}"#);
    assert!(empty.items.is_empty());
}

//! Transaction and setup business objects: ARSTIN, GENTJL, ARSSCS, SORTOI.

use rust_decimal::Decimal;
use syspro_client::Error;
use syspro_client::bo::{
    ArInvoiceItem, ArInvoicePosting, CustomerRecord, CustomerSetup, FreightLine, GlJournal,
    GlJournalLine, GlJournalPosting, SalesOrder, SalesOrderImport, SalesOrderLine,
    SalesOrderProcess, StockLine,
};
use time::macros::date;

use crate::support::{
    client, fixture, fixture_cp1252, mount_call, mount_logon, param, received, server,
};

fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal")
}

fn posting() -> ArInvoicePosting {
    let mut first = ArInvoiceItem::invoice(
        "WEB001",
        "MG100000123",
        date!(2026 - 11 - 20),
        dec("119"),
        "WEB",
    );
    first.tax_value = Some(dec("19.00"));
    first.reference = Some("100000123 & co".into());
    let second = ArInvoiceItem::invoice(
        "NOPE01",
        "MG100000124",
        date!(2026 - 11 - 20),
        dec("5.5"),
        "WEB",
    );
    let mut posting = ArInvoicePosting::new(vec![first, second]);
    posting.parameters.apply_if_entire_document_valid = false;
    posting
}

#[tokio::test]
async fn ar_invoices_are_posted_and_a_partial_batch_is_parsed_per_item() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Transaction/Post",
        "ARSTIN",
        fixture_cp1252("arstin_partial.xml"),
    )
    .await;
    let client = client(&server);
    let posting = posting();

    let result = client.post_ar_invoices(&posting).await.expect("posted");

    let request = received(&server, "Transaction/Post").await;
    assert_eq!(
        param(&request, "XmlIn"),
        Some(posting.document_xml().unwrap())
    );
    assert_eq!(
        param(&request, "XmlParameters"),
        Some(posting.parameters_xml().unwrap())
    );
    let xml_in = param(&request, "XmlIn").unwrap();
    assert!(
        xml_in.contains("<InvoiceValue>119.00</InvoiceValue>"),
        "{xml_in}"
    );
    assert!(
        xml_in.contains("<InvoiceValue>5.50</InvoiceValue>"),
        "{xml_in}"
    );
    assert!(
        xml_in.contains("<Reference>100000123 &amp; co</Reference>"),
        "{xml_in}"
    );
    assert!(
        param(&request, "XmlParameters")
            .unwrap()
            .contains("<ApplyIfEntireDocumentValid>N</ApplyIfEntireDocumentValid>")
    );

    assert!(result.item(1).unwrap().is_success());
    assert_eq!(
        result.item(1).unwrap().invoice.as_deref(),
        Some("MG100000123")
    );
    let rejected = result.item(2).unwrap();
    assert!(!rejected.is_success());
    assert_eq!(rejected.messages.errors[0].field, "Customer");
    assert_eq!(
        rejected.messages.warnings,
        vec!["Customer is on hold".to_owned()]
    );
    assert_eq!(result.invalid_items, Some(1));
    assert!(!result.is_success());
}

#[tokio::test]
async fn invalid_documents_are_refused_before_anything_is_sent() {
    // The catch-all mock expects no request at all, not even a logon.
    let server = server().await;
    let client = client(&server);

    let mut bad_invoice = posting();
    bad_invoice.items[0].invoice_value = dec("-1");
    assert!(matches!(
        client.post_ar_invoices(&bad_invoice).await,
        Err(Error::InvalidInput { field, .. }) if field == "items[0].invoice_value"
    ));

    let unbalanced = GlJournalPosting::new(vec![GlJournal::new(
        date!(2026 - 11 - 20),
        2026,
        11,
        vec![
            GlJournalLine::debit("00-1190", dec("10.00")),
            GlJournalLine::credit("00-4010", dec("9.99")),
        ],
    )]);
    assert!(matches!(
        client.post_gl_journal(&unbalanced).await,
        Err(Error::InvalidInput { field, .. }) if field == "journals[0].lines"
    ));
}

#[tokio::test]
async fn gl_journal_is_posted_and_lower_case_output_is_read() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Transaction/Post",
        "GENTJL",
        fixture_cp1252("gentjl_ok.xml"),
    )
    .await;
    let client = client(&server);
    let mut journal = GlJournal::new(
        date!(2026 - 11 - 20),
        2026,
        11,
        vec![
            GlJournalLine::debit("00-1190", dec("119")),
            GlJournalLine::credit("00-4010", dec("100")),
            GlJournalLine::credit("00-2200", dec("19")),
        ],
    );
    journal.reference = Some("MG100000123".into());
    let posting = GlJournalPosting::new(vec![journal]);

    let result = client.post_gl_journal(&posting).await.expect("posted");

    let request = received(&server, "Transaction/Post").await;
    let xml_in = param(&request, "XmlIn").unwrap();
    assert_eq!(xml_in, posting.document_xml().unwrap());
    assert!(
        xml_in.contains("<EntryAmount>-100.00</EntryAmount>"),
        "{xml_in}"
    );
    assert!(
        xml_in.contains("<PostingPeriod>11</PostingPeriod>"),
        "{xml_in}"
    );
    assert_eq!(
        param(&request, "XmlParameters"),
        Some(posting.parameters_xml().unwrap())
    );
    assert!(result.is_success());
    assert_eq!(result.journals[0].gl_journal, Some(117));
    assert_eq!(result.journals[0].gl_year, Some(2026));
}

#[tokio::test]
async fn customers_are_added_with_setup_add_and_updated_with_setup_update() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Setup/Add",
        "ARSSCS",
        fixture_cp1252("arsscs_ok.xml"),
    )
    .await;
    mount_call(
        &server,
        "Setup/Update",
        "ARSSCS",
        fixture_cp1252("arsscs_error.xml"),
    )
    .await;
    let client = client(&server);
    let mut customer = CustomerRecord::new("WEB000042");
    customer.name = Some("Müller & Söhne".into());
    customer.email = Some("anna@example.com".into());

    let added = client.add_customer(&customer).await.expect("added");
    assert!(added.is_success());
    assert_eq!(added.customers[0].customer.as_deref(), Some("WEB000042"));
    let request = received(&server, "Setup/Add").await;
    let xml_in = param(&request, "XmlIn").unwrap();
    assert_eq!(
        xml_in,
        CustomerSetup::new(vec![customer.clone()])
            .document_xml(true)
            .unwrap()
    );
    assert!(
        xml_in.contains("<Name>Müller &amp; Söhne</Name>"),
        "{xml_in}"
    );

    let updated = client.update_customer(&customer).await.expect("answered");
    assert!(!updated.is_success());
    assert_eq!(updated.records_invalid, Some(1));
    assert!(
        received(&server, "Setup/Update")
            .await
            .url
            .query()
            .is_some()
    );
}

#[tokio::test]
async fn sales_order_clean_import_without_order_block_is_a_success() {
    let server = server().await;
    mount_logon(&server).await;
    mount_call(
        &server,
        "Transaction/Post",
        "SORTOI",
        fixture("sortoi_clean.xml"),
    )
    .await;
    let client = client(&server);
    let order = SalesOrder::new(
        "#100000123",
        "WEBS01",
        vec![
            SalesOrderLine::Stock(StockLine {
                customer_po_line: 1,
                stock_code: "A100".into(),
                description: None,
                warehouse: Some("FG".into()),
                quantity: dec("2"),
                unit_of_measure: "EA".into(),
                price: Some(dec("12.99")),
                price_unit_of_measure: Some("EA".into()),
                discount_percent: None,
                tax_code: None,
            }),
            SalesOrderLine::Freight(FreightLine {
                customer_po_line: 2,
                value: dec("4.95"),
                cost: None,
            }),
        ],
    );
    let import = SalesOrderImport::new(vec![order]);
    assert_eq!(import.parameters.process, SalesOrderProcess::Import);

    let result = client.import_sales_orders(&import).await.expect("imported");

    let request = received(&server, "Transaction/Post").await;
    let parameters = param(&request, "XmlParameters").unwrap();
    assert!(
        parameters.contains("<Process>Import</Process>"),
        "{parameters}"
    );
    assert!(
        parameters.contains("<AllowDuplicateOrderNumbers>N</AllowDuplicateOrderNumbers>"),
        "{parameters}"
    );
    assert_eq!(
        param(&request, "XmlIn"),
        Some(import.document_xml().unwrap())
    );
    assert!(result.orders.is_empty());
    assert_eq!(result.items_processed, Some(1));
    assert!(result.is_success());
}

//! Business-object rules against the fake's ledger.

use crate::{Harness, arstin_doc, arstin_item, arstin_params, texts};

#[tokio::test]
async fn arstin_posts_an_invoice_and_rejects_the_same_number_again() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let doc = arstin_doc(&[arstin_item("C00002", "WB100001", "115.00", "ECOM")]);
    let out = h.post(&id, "ARSTIN", &arstin_params("N", "Y"), &doc).await;
    assert!(
        out.contains("<postarinvoices>"),
        "lower-case output root: {out}"
    );
    assert_eq!(texts(&out, "Invoice"), ["WB100001"]);
    assert_eq!(texts(&out, "ItemNumber"), ["000001"]);
    assert_eq!(texts(&out, "ItemsProcessed"), ["000001"]);
    assert_eq!(texts(&out, "InvalidItems"), ["000000"]);
    assert_eq!(
        h.ledger_invoices("C00002")
            .await
            .iter()
            .filter(|(i, _)| i == "WB100001")
            .count(),
        1
    );
    let invoices = h.sim_get("invoices/C00002/WB100001").await;
    assert_eq!(invoices["tax_value"], "1.50");
    assert_eq!(invoices["reference"], "000000WB100001");
    assert_eq!(invoices["branch"], "WB");
    assert_eq!(invoices["product_class"], "ECOM");
    assert_eq!(invoices["invoice_date"], "2026-03-14");
    assert_eq!(
        invoices["ar_to_gl"][1]["gl_code"], "00-4999",
        "ECOM books to clearing"
    );

    let again = h.post(&id, "ARSTIN", &arstin_params("N", "Y"), &doc).await;
    assert!(
        again.contains("<ErrorDescription>Invoice 'WB100001' already exists for customer 'C00002'</ErrorDescription>"),
        "{again}"
    );
    assert_eq!(texts(&again, "ItemsProcessed"), ["000000"]);
    // The same number for another customer is fine.
    let other = h
        .post(
            &id,
            "ARSTIN",
            &arstin_params("N", "Y"),
            &arstin_doc(&[arstin_item("C00003", "WB100001", "5.00", "ECOM")]),
        )
        .await;
    assert_eq!(texts(&other, "ItemsProcessed"), ["000001"], "{other}");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn arstin_rejects_unknown_customer_product_class_branch_and_negative_values() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let bad_branch = arstin_item("C00001", "BR1", "10.00", "ECOM")
        .replace("<Branch>WB</Branch>", "<Branch>ZZ</Branch>");
    let doc = arstin_doc(&[
        arstin_item("NOSUCH", "X1", "10.00", "ECOM"),
        arstin_item("C00001", "X2", "10.00", "NOPE"),
        arstin_item("C00001", "X3", "-10.00", "ECOM"),
        arstin_item("C00001", "X4", "10.999", "ECOM"),
        bad_branch,
    ]);
    let out = h.post(&id, "ARSTIN", &arstin_params("N", "N"), &doc).await;
    let errors = texts(&out, "ErrorDescription");
    assert_eq!(
        errors,
        [
            "Customer 'NOSUCH' not found",
            "Product class 'NOPE' not found",
            "Invoice value may not be negative",
            "InvoiceValue '10.999' is not numeric (expected up to 12 digits and 2 decimals)",
            "Branch 'ZZ' not found",
        ],
        "{out}"
    );
    assert!(
        out.contains("<Customer>\r\n<Value>NOSUCH</Value>"),
        "error nests under the field: {out}"
    );
    assert_eq!(texts(&out, "InvalidItems"), ["000005"]);
    assert!(
        h.ledger_invoices("C00001")
            .await
            .iter()
            .all(|(i, _)| !i.starts_with('X'))
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn arstin_validate_only_leaves_the_ledger_unchanged() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let before = h.sim_get("invoices").await.as_array().unwrap().len();
    let doc = arstin_doc(&[arstin_item("C00004", "VO1", "20.00", "ECOM")]);
    let out = h.post(&id, "ARSTIN", &arstin_params("Y", "Y"), &doc).await;
    assert_eq!(texts(&out, "ItemsValidated"), ["000001"], "{out}");
    assert_eq!(texts(&out, "ItemsProcessed"), ["000000"]);
    assert_eq!(
        h.sim_get("invoices").await.as_array().unwrap().len(),
        before
    );
    // Validating twice is not a duplicate; posting afterwards works.
    let out = h.post(&id, "ARSTIN", &arstin_params("N", "Y"), &doc).await;
    assert_eq!(texts(&out, "ItemsProcessed"), ["000001"], "{out}");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn apply_if_entire_document_valid_y_blocks_everything_and_n_posts_the_good_items() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let doc = arstin_doc(&[
        arstin_item("C00005", "AE1", "10.00", "ECOM"),
        arstin_item("C00005", "AE2", "10.00", "BAD"),
        arstin_item("C00005", "AE3", "10.00", "ECOM"),
    ]);
    let all_or_nothing = h.post(&id, "ARSTIN", &arstin_params("N", "Y"), &doc).await;
    assert_eq!(texts(&all_or_nothing, "ItemsValidated"), ["000002"]);
    assert_eq!(texts(&all_or_nothing, "InvalidItems"), ["000001"]);
    assert_eq!(texts(&all_or_nothing, "ItemsProcessed"), ["000000"]);
    assert!(
        h.ledger_invoices("C00005")
            .await
            .iter()
            .all(|(i, _)| !i.starts_with("AE"))
    );

    let partial = h.post(&id, "ARSTIN", &arstin_params("N", "N"), &doc).await;
    assert_eq!(texts(&partial, "ItemsProcessed"), ["000002"], "{partial}");
    assert_eq!(
        texts(&partial, "ErrorDescription"),
        ["Product class 'BAD' not found"]
    );
    let mut posted: Vec<String> = h
        .ledger_invoices("C00005")
        .await
        .into_iter()
        .map(|(i, _)| i)
        .filter(|i| i.starts_with("AE"))
        .collect();
    posted.sort();
    assert_eq!(posted, ["AE1", "AE3"]);
    h.sim.shutdown().await;
}

fn journal(reference: &str, lines: &[(&str, &str)]) -> String {
    let details: String = lines
        .iter()
        .enumerate()
        .map(|(n, (code, amount))| {
            format!(
                "<JournalDetails><EntryNumber>{}</EntryNumber><LedgerCode>{code}</LedgerCode>\
<Reference>{reference}</Reference><EntryAmount>{amount}</EntryAmount><Comment>line</Comment></JournalDetails>",
                n + 1
            )
        })
        .collect();
    format!(
        "<PostGlJournal><Item><JournalType>N</JournalType><JournalNumber/><PostJournal>Y</PostJournal>\
<JournalDate>2026-03-14</JournalDate><JournalReference>{reference}</JournalReference>\
<Notation>Commerce invoice</Notation><PostingPeriod>03</PostingPeriod><PostingYear>2026</PostingYear>\
{details}</Item></PostGlJournal>"
    )
}

const GENTJL_PARAMS: &str = "<PostGlJournal><Parameters><IgnoreWarnings>N</IgnoreWarnings>\
<ApplyIfEntireDocumentValid>Y</ApplyIfEntireDocumentValid><ValidateOnly>N</ValidateOnly>\
<ActionType>A</ActionType></Parameters></PostGlJournal>";

#[tokio::test]
async fn gentjl_posts_balanced_journals_and_rejects_unbalanced_or_unknown_codes() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let balanced = journal(
        "WB100001",
        &[
            ("00-4999", "115.00"),
            ("00-4010", "-100.00"),
            ("00-4100", "-15.00"),
        ],
    );
    let out = h.post(&id, "GENTJL", GENTJL_PARAMS, &balanced).await;
    assert!(out.contains("<postgljournal>"), "{out}");
    assert_eq!(texts(&out, "GlJournal"), ["00001"]);
    assert_eq!(texts(&out, "GlPeriod"), ["03"]);
    assert_eq!(texts(&out, "JournalDate"), ["20260314"]);
    assert_eq!(texts(&out, "JournalsProcessed"), ["1"]);
    assert_eq!(texts(&out, "PostingsProcessed"), ["3"]);
    let second = h.post(&id, "GENTJL", GENTJL_PARAMS, &balanced).await;
    assert_eq!(
        texts(&second, "GlJournal"),
        ["00002"],
        "numbers are allocated per period"
    );

    let unbalanced = journal("WB100002", &[("00-4999", "115.00"), ("00-4010", "-100.00")]);
    let out = h.post(&id, "GENTJL", GENTJL_PARAMS, &unbalanced).await;
    assert_eq!(texts(&out, "JournalsInvalid"), ["1"]);
    assert_eq!(
        texts(&out, "ErrorDescription"),
        ["Journal does not balance: debits 115.00 credits 100.00 difference 15.00"]
    );
    let unknown = journal("WB100003", &[("00-4999", "10.00"), ("99-0000", "-10.00")]);
    let out = h.post(&id, "GENTJL", GENTJL_PARAMS, &unknown).await;
    assert_eq!(
        texts(&out, "ErrorDescription"),
        ["Ledger code '99-0000' not found"]
    );

    let validate = GENTJL_PARAMS.replace("<ValidateOnly>N", "<ValidateOnly>Y");
    let out = h.post(&id, "GENTJL", &validate, &balanced).await;
    assert_eq!(texts(&out, "JournalsInvalid"), ["0"]);
    assert_eq!(texts(&out, "JournalsProcessed"), ["0"]);

    let journals = h.sim_get("journals").await;
    let journals = journals.as_array().unwrap();
    assert_eq!(journals.len(), 2);
    assert_eq!(journals[0]["journal_reference"], "WB100001");
    assert_eq!(journals[0]["lines"][1]["ledger_code"], "00-4010");
    assert_eq!(journals[0]["lines"][1]["entry_amount"], "-100.00");
    h.sim.shutdown().await;
}

const ARSSCS_PARAMS: &str = "<SetupArCustomer><Parameters><IgnoreWarnings>N</IgnoreWarnings>\
<ApplyIfEntireDocumentValid>Y</ApplyIfEntireDocumentValid><ValidateOnly>N</ValidateOnly></Parameters></SetupArCustomer>";

#[tokio::test]
async fn arsscs_adds_refuses_a_duplicate_and_updates_only_existing_customers() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let add = "<SetupArCustomer><Item><Key><Customer>WEB0042</Customer></Key><Name>Zo\u{eb} O'Brien</Name>\
<Email>zoe@example.com</Email><Branch>WB</Branch><TermsCode>00</TermsCode></Item></SetupArCustomer>";
    let out = h.setup("Add", &id, "ARSSCS", ARSSCS_PARAMS, add).await;
    assert!(out.contains("<setuparcustomer>"), "{out}");
    assert_eq!(texts(&out, "customer"), ["WEB0042"]);
    assert_eq!(texts(&out, "RecordsRead"), ["1"]);
    assert_eq!(texts(&out, "RecordsInvalid"), ["0"]);

    let dup = h.setup("Add", &id, "ARSSCS", ARSSCS_PARAMS, add).await;
    assert_eq!(texts(&dup, "RecordsInvalid"), ["1"]);
    assert_eq!(
        texts(&dup, "ErrorDescription"),
        ["Customer 'WEB0042' already exists"]
    );

    let update = "<SetupArCustomer><Item><Key><Customer>WEB0042</Customer></Key><Email>zoe@new.example</Email></Item></SetupArCustomer>";
    let out = h
        .setup("Update", &id, "ARSSCS", ARSSCS_PARAMS, update)
        .await;
    assert_eq!(texts(&out, "RecordsInvalid"), ["0"], "{out}");
    let missing = update.replace("WEB0042", "WEB9999");
    let out = h
        .setup("Update", &id, "ARSSCS", ARSSCS_PARAMS, &missing)
        .await;
    assert_eq!(
        texts(&out, "ErrorDescription"),
        ["Customer 'WEB9999' not found"]
    );

    let customers = h.sim_get("customers").await;
    let added = customers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customer"] == "WEB0042")
        .unwrap();
    assert_eq!(added["email"], "zoe@new.example");
    assert_eq!(added["name"], "Zo\u{eb} O'Brien");

    let bad_branch = add
        .replace("WEB0042", "WEB0043")
        .replace("<Branch>WB", "<Branch>QQ");
    let out = h
        .setup("Add", &id, "ARSSCS", ARSSCS_PARAMS, &bad_branch)
        .await;
    assert!(out.contains("<branch>\r\n<Value>QQ</Value>"), "{out}");
    h.sim.shutdown().await;
}

fn comfnd(table: &str, expressions: &str) -> String {
    format!(
        "<Query><TableName>{table}</TableName><ReturnRows>1000</ReturnRows><Columns>\
<Column>Customer</Column></Columns><Where>{expressions}</Where><OrderBy><Column>Customer</Column></OrderBy></Query>"
    )
}

fn expr(
    and_or: &str,
    open: &str,
    column: &str,
    condition: &str,
    value: &str,
    close: &str,
) -> String {
    format!(
        "<Expression>{}<OpenBracket>{open}</OpenBracket><Column>{column}</Column><Condition>{condition}</Condition>\
<Value>{value}</Value><CloseBracket>{close}</CloseBracket></Expression>",
        if and_or.is_empty() {
            String::new()
        } else {
            format!("<AndOr>{and_or}</AndOr>")
        }
    )
}

#[tokio::test]
async fn comfnd_applies_where_clauses_with_sql_precedence() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let eq = h
        .query(
            &id,
            "COMFND",
            &comfnd(
                "ArCustomer",
                &expr("", "(", "Customer", "EQ", "CAFEZOE", ")"),
            ),
        )
        .await;
    assert!(
        eq.contains("<ArCustomer Language='05'"),
        "root is the table: {eq}"
    );
    assert_eq!(texts(&eq, "Customer"), ["CAFEZOE"]);
    assert_eq!(texts(&eq, "RowsReturned"), ["1"]);
    assert!(
        eq.contains("<RowsReturned>       1</RowsReturned>"),
        "space-padded"
    );

    let like = h
        .query(
            &id,
            "COMFND",
            &comfnd("ArCustomer", &expr("", "", "Customer", "LIKE", "%CASH", "")),
        )
        .await;
    assert_eq!(texts(&like, "Customer"), ["B2BCASH", "MKTCASH", "WEBCASH"]);

    let range = h
        .query(
            &id,
            "COMFND",
            &comfnd(
                "ArCustomer",
                &(expr("", "", "Customer", "GT", "C00003", "")
                    + &expr("And", "", "Customer", "LT", "C00006", "")),
            ),
        )
        .await;
    assert_eq!(texts(&range, "Customer"), ["C00004", "C00005"]);

    // A OR (B AND C) vs (A OR B) AND C.
    let a_or_b_and_c = expr("", "", "Customer", "EQ", "WEBCASH", "")
        + &expr("Or", "(", "Branch", "EQ", "B2", "")
        + &expr("And", "", "Customer", "LIKE", "C%", ")");
    let out = h
        .query(&id, "COMFND", &comfnd("ArCustomer", &a_or_b_and_c))
        .await;
    let rows = texts(&out, "Customer");
    assert!(rows.contains(&"WEBCASH".to_owned()));
    assert!(
        !rows.contains(&"MUELLER".to_owned()),
        "MUELLER is B2 but not LIKE C%: {rows:?}"
    );
    let plain = expr("", "", "Customer", "EQ", "WEBCASH", "")
        + &expr("Or", "", "Branch", "EQ", "B2", "")
        + &expr("And", "", "Customer", "LIKE", "C%", "");
    assert_eq!(
        texts(
            &h.query(&id, "COMFND", &comfnd("ArCustomer", &plain)).await,
            "Customer"
        ),
        rows,
        "AND binds tighter"
    );

    let ne = h
        .query(
            &id,
            "COMFND",
            &comfnd("GenMaster", &expr("", "", "AccountType", "NE", "R", ""))
                .replace("Customer", "GlCode"),
        )
        .await;
    assert_eq!(
        texts(&ne, "GlCode"),
        [
            "00-1010", "00-1200", "00-1400", "00-2100", "00-2200", "00-3000", "00-5000", "00-6100",
            "00-9999"
        ]
    );

    let missing = h.query(&id, "COMFND", &comfnd("NoTable", "")).await;
    assert_eq!(missing, "ERROR: Table 'NoTable' not found");
    let bad_column = h
        .query(
            &id,
            "COMFND",
            &comfnd("ArCustomer", &expr("", "", "Nope", "EQ", "x", "")),
        )
        .await;
    assert!(
        bad_column.starts_with("ERROR: Column 'Nope'"),
        "{bad_column}"
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn genqgl_arsqry_and_comfch_answer_from_the_ledger() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let gl = |code: &str| {
        format!(
            "<Query><key><LedgerCode>{code}</LedgerCode><Company>0</Company><SecurityType>P</SecurityType><ValidateStructure>Y</ValidateStructure></key></Query>"
        )
    };
    let ok = h.query(&id, "GENQGL", &gl("00-4030")).await;
    assert_eq!(texts(&ok, "Description"), ["Revenue - marketplace"]);
    assert_eq!(texts(&ok, "AccountType"), ["R"]);
    assert_eq!(
        h.query(&id, "GENQGL", &gl("00-4031")).await,
        "ERROR: Ledger code '00-4031' not found"
    );

    h.post(
        &id,
        "ARSTIN",
        &arstin_params("N", "Y"),
        &arstin_doc(&[arstin_item("CAFEZOE", "Q1", "50.00", "ECOM")]),
    )
    .await;
    let statement = h.query(&id, "ARSQRY", "<Query><Key><Customer>CAFEZOE</Customer></Key><Option><IncludeTransactions>Y</IncludeTransactions></Option></Query>").await;
    assert_eq!(texts(&statement, "Invoice"), ["Q1"]);
    assert_eq!(texts(&statement, "InvoiceBal"), ["50.00"]);
    assert!(
        h.query(
            &id,
            "ARSQRY",
            "<Query><Key><Customer>NOPE</Customer></Key></Query>"
        )
        .await
        .starts_with("ERROR:")
    );

    let fetch = h.get("Query/Fetch", &[("UserId", &id), ("XmlIn", "<Fetch><TableName>ArInvoice</TableName><Key>CAFEZOE</Key><OptionalKey1>Q1</OptionalKey1></Fetch>")]).await;
    assert_eq!(texts(&fetch, "OrigInvValue"), ["50.00"]);
    assert_eq!(texts(&fetch, "Reference"), ["000000Q1"]);
    let browse = h.get("Query/Browse", &[("UserId", &id), ("XmlIn", "<Browse><BrowseName>ArCustomer</BrowseName><StartAtKey>C00001</StartAtKey><ReturnRows>2</ReturnRows></Browse>")]).await;
    assert_eq!(texts(&browse, "NextKey"), ["C00003"], "{browse}");
    h.sim.shutdown().await;
}

fn sortoi_params(process: &str, duplicates: &str) -> String {
    format!(
        "<SalesOrders><Parameters><Process>{process}</Process><AllowDuplicateOrderNumbers>{duplicates}</AllowDuplicateOrderNumbers>\
<CheckForCustomerPoNumbers>Y</CheckForCustomerPoNumbers><IgnoreWarnings>W</IgnoreWarnings></Parameters></SalesOrders>"
    )
}

fn sortoi_doc(po: &str) -> String {
    format!(
        "<SalesOrders><Orders><OrderHeader><CustomerPoNumber>{po}</CustomerPoNumber><OrderActionType>A</OrderActionType>\
<Customer>C00007</Customer><OrderDate>2026-03-14</OrderDate></OrderHeader><OrderDetails><StockLine>\
<CustomerPoLine>1</CustomerPoLine><LineActionType>A</LineActionType><StockCode>A100</StockCode><Warehouse>FG</Warehouse>\
<OrderQty>2</OrderQty><OrderUom>EA</OrderUom><Price>12.99</Price><PriceUom>EA</PriceUom></StockLine></OrderDetails></Orders></SalesOrders>"
    )
}

#[tokio::test]
async fn sortoi_imports_cleanly_without_an_order_block_and_controls_duplicate_po_numbers() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let validate = h
        .post(
            &id,
            "SORTOI",
            &sortoi_params("Validate", "N"),
            &sortoi_doc("#1001"),
        )
        .await;
    assert_eq!(texts(&validate, "Status"), ["Successful"], "{validate}");
    assert!(
        h.sim_get("sales-orders")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let clean = h
        .post(
            &id,
            "SORTOI",
            &sortoi_params("IMPORT", "N"),
            &sortoi_doc("#1001"),
        )
        .await;
    assert!(
        !clean.contains("<Order>"),
        "clean import has no Order block: {clean}"
    );
    assert_eq!(texts(&clean, "ItemsProcessed"), ["000001"]);
    let orders = h.sim_get("sales-orders").await;
    assert_eq!(orders[0]["customer_po_number"], "#1001");

    let duplicate = h
        .post(
            &id,
            "SORTOI",
            &sortoi_params("Import", "N"),
            &sortoi_doc("#1001"),
        )
        .await;
    assert!(
        duplicate.contains("<SalesOrder/>"),
        "rejected order has an empty number: {duplicate}"
    );
    assert_eq!(texts(&duplicate, "ItemsProcessed"), ["000000"]);
    assert_eq!(
        texts(&duplicate, "ErrorDescription"),
        ["Customer purchase order number '#1001' already exists for customer 'C00007'"]
    );

    let allowed = h
        .post(
            &id,
            "SORTOI",
            &sortoi_params("Import", "Y"),
            &sortoi_doc("#1001"),
        )
        .await;
    assert_eq!(texts(&allowed, "ItemsProcessedWithWarnings"), ["000001"]);
    assert_eq!(texts(&allowed, "SalesOrder").len(), 1);
    assert!(!texts(&allowed, "SalesOrder")[0].is_empty());
    assert_eq!(h.sim_get("sales-orders").await.as_array().unwrap().len(), 2);

    let find = "<Query><TableName>SorMaster</TableName><Columns><Column>SalesOrder</Column></Columns><Where>\
<Expression><Column>Customer</Column><Condition>EQ</Condition><Value>C00007</Value></Expression>\
<Expression><AndOr>And</AndOr><Column>CustomerPoNumber</Column><Condition>EQ</Condition><Value>#1001</Value></Expression></Where></Query>";
    assert_eq!(
        texts(&h.query(&id, "COMFND", find).await, "SalesOrder").len(),
        2
    );
    h.sim.shutdown().await;
}

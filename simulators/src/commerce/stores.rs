//! Fixed reference data of the simulated shop: store views, catalogue, name and address pools.
//! Everything a demo mapping needs (store codes, SKU prefixes) is listed in the crate README.

use rust_decimal::Decimal;

/// One store view (in this shop each website has exactly one store and one store view).
#[derive(Clone, Debug)]
pub(crate) struct StoreView {
    pub id: i64,
    pub code: &'static str,
    pub website_id: i64,
    /// `store_name` as Commerce renders it: website, store and view names joined by newlines.
    pub name: &'static str,
    pub base_currency: &'static str,
    /// Rate from the website's base currency to the global currency (USD).
    pub base_to_global: Decimal,
    /// A second display currency some orders are placed in, with its rate from the base currency.
    pub alt_currency: Option<(&'static str, Decimal)>,
    pub tax_percent: Decimal,
    pub tax_shipping: bool,
    /// Customer group of registered buyers (1 General, 2 Wholesale).
    pub customer_group: i64,
    /// Share of the generated orders placed in this store view, in percent.
    pub order_share: u64,
    pub increment_prefix: &'static str,
}

pub(crate) fn store_views() -> Vec<StoreView> {
    vec![
        StoreView {
            id: 1,
            code: "web",
            website_id: 1,
            name: "Main Website\nMain Website Store\nWeb Store View",
            base_currency: "USD",
            base_to_global: Decimal::ONE,
            alt_currency: Some(("EUR", Decimal::new(9210, 4))),
            tax_percent: Decimal::new(825, 2),
            tax_shipping: true,
            customer_group: 1,
            order_share: 60,
            increment_prefix: "",
        },
        StoreView {
            id: 2,
            code: "marketplace",
            website_id: 2,
            name: "Marketplace Website\nMarketplace Store\nMarketplace Store View",
            base_currency: "EUR",
            base_to_global: Decimal::new(10850, 4),
            alt_currency: None,
            tax_percent: Decimal::new(19, 0),
            tax_shipping: true,
            customer_group: 1,
            order_share: 25,
            increment_prefix: "2",
        },
        StoreView {
            id: 3,
            code: "b2b",
            website_id: 3,
            name: "B2B Website\nB2B Store\nB2B Store View",
            base_currency: "USD",
            base_to_global: Decimal::ONE,
            alt_currency: None,
            tax_percent: Decimal::new(65, 1),
            tax_shipping: false,
            customer_group: 2,
            order_share: 15,
            increment_prefix: "3",
        },
    ]
}

/// Kind of catalogue product, as Commerce's `type_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProductType {
    Simple,
    Configurable,
    Bundle,
}

impl ProductType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::Configurable => "configurable",
            Self::Bundle => "bundle",
        }
    }
}

/// A catalogue product. Prices are in the base currency of every website (the catalogue uses one price
/// scope), which keeps the arithmetic of each order simple to check.
#[derive(Clone, Debug)]
pub(crate) struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub type_id: ProductType,
    pub price: Decimal,
    pub weight: Decimal,
    /// Configurable variants or bundle selections (product ids).
    pub children: Vec<i64>,
    /// Visible in catalogue and search (4) or only through its parent (1).
    pub visibility: i64,
    pub category_id: &'static str,
    /// For configurable variants: (color option value id, size option value id).
    pub variant_options: Option<(i64, i64)>,
    /// Clearance stock: never part of a normal order; see the README's SKU table.
    pub unmapped: bool,
}

struct Seed {
    sku: &'static str,
    name: &'static str,
    price: (i64, u32),
    weight: (i64, u32),
    category: &'static str,
}

const SIMPLES: &[Seed] = &[
    Seed {
        sku: "AP-SOCK-01",
        name: "Merino Crew Socks",
        price: (1400, 2),
        weight: (2, 1),
        category: "11",
    },
    Seed {
        sku: "AP-CAP-01",
        name: "Logo Cap",
        price: (2200, 2),
        weight: (3, 1),
        category: "11",
    },
    Seed {
        sku: "HW-BOLT-M8",
        name: "Stainless Bolt M8 (50 pack)",
        price: (945, 2),
        weight: (12, 1),
        category: "21",
    },
    Seed {
        sku: "HW-DRILL-18V",
        name: "Cordless Drill 18V",
        price: (12999, 2),
        weight: (21, 1),
        category: "21",
    },
    Seed {
        sku: "HW-SAW-01",
        name: "Hand Saw 22in",
        price: (3450, 2),
        weight: (8, 1),
        category: "21",
    },
    Seed {
        sku: "GR-TENT-2P",
        name: "Trail Tent 2P",
        price: (24900, 2),
        weight: (24, 1),
        category: "31",
    },
    Seed {
        sku: "GR-LAMP-01",
        name: "Headlamp 300lm",
        price: (3995, 2),
        weight: (1, 1),
        category: "31",
    },
    Seed {
        sku: "GR-BOTTLE-1L",
        name: "Insulated Bottle 1L",
        price: (2750, 2),
        weight: (5, 1),
        category: "31",
    },
    Seed {
        sku: "SV-ENGRAVE",
        name: "Engraving Service",
        price: (799, 2),
        weight: (0, 0),
        category: "41",
    },
];

const CLEARANCE: &[Seed] = &[
    Seed {
        sku: "CLR-MUG-01",
        name: "Clearance Enamel Mug",
        price: (699, 2),
        weight: (4, 1),
        category: "91",
    },
    Seed {
        sku: "CLR-TEE-99",
        name: "Clearance Tee 2019",
        price: (999, 2),
        weight: (2, 1),
        category: "91",
    },
    Seed {
        sku: "CLR-LAMP-OLD",
        name: "Clearance Lantern",
        price: (1200, 2),
        weight: (9, 1),
        category: "91",
    },
];

/// (parent sku, parent name, price, variants: (sku suffix, color id, size id, label))
type ConfigurableSeed = (
    &'static str,
    &'static str,
    (i64, u32),
    &'static [(&'static str, i64, i64)],
);

const CONFIGURABLES: &[ConfigurableSeed] = &[
    (
        "AP-TEE",
        "Organic Tee",
        (2400, 2),
        &[("BLK-S", 49, 167), ("BLK-M", 49, 168), ("WHT-L", 59, 169)],
    ),
    (
        "AP-HOOD",
        "Zip Hoodie",
        (5900, 2),
        &[("GRY-M", 52, 168), ("NVY-L", 57, 169)],
    ),
];

const BUNDLES: &[(&str, &str, &[&str])] = &[
    (
        "GR-KIT-CAMP",
        "Camping Starter Kit",
        &["GR-TENT-2P", "GR-LAMP-01", "GR-BOTTLE-1L"],
    ),
    (
        "HW-KIT-TOOLS",
        "Workshop Tool Kit",
        &["HW-DRILL-18V", "HW-SAW-01", "HW-BOLT-M8"],
    ),
];

pub(crate) fn catalogue() -> Vec<Product> {
    let mut out = Vec::new();
    let mut next_id = 1;
    let push = |p: Product, out: &mut Vec<Product>| out.push(p);
    for (seeds, unmapped) in [(SIMPLES, false), (CLEARANCE, true)] {
        for s in seeds {
            push(
                Product {
                    id: next_id,
                    sku: s.sku.to_owned(),
                    name: s.name.to_owned(),
                    type_id: ProductType::Simple,
                    price: Decimal::new(s.price.0, s.price.1),
                    weight: Decimal::new(s.weight.0, s.weight.1),
                    children: Vec::new(),
                    visibility: 4,
                    category_id: s.category,
                    variant_options: None,
                    unmapped,
                },
                &mut out,
            );
            next_id += 1;
        }
    }
    for (sku, name, price, variants) in CONFIGURABLES {
        let parent_id = next_id;
        next_id += 1;
        let mut children = Vec::new();
        let mut variant_products = Vec::new();
        for &(suffix, color, size) in variants.iter() {
            children.push(next_id);
            variant_products.push(Product {
                id: next_id,
                sku: format!("{sku}-{suffix}"),
                name: format!("{name}-{suffix}"),
                type_id: ProductType::Simple,
                price: Decimal::new(price.0, price.1),
                weight: Decimal::new(3, 1),
                children: Vec::new(),
                visibility: 1,
                category_id: "11",
                variant_options: Some((color, size)),
                unmapped: false,
            });
            next_id += 1;
        }
        push(
            Product {
                id: parent_id,
                sku: (*sku).to_owned(),
                name: (*name).to_owned(),
                type_id: ProductType::Configurable,
                price: Decimal::new(price.0, price.1),
                weight: Decimal::new(3, 1),
                children,
                visibility: 4,
                category_id: "11",
                variant_options: None,
                unmapped: false,
            },
            &mut out,
        );
        out.extend(variant_products);
    }
    for (sku, name, parts) in BUNDLES {
        let children: Vec<i64> = parts
            .iter()
            .filter_map(|p| out.iter().find(|x| x.sku == *p).map(|x| x.id))
            .collect();
        push(
            Product {
                id: next_id,
                sku: (*sku).to_owned(),
                name: (*name).to_owned(),
                type_id: ProductType::Bundle,
                price: Decimal::ZERO,
                weight: Decimal::ZERO,
                children,
                visibility: 4,
                category_id: if sku.starts_with("GR") { "31" } else { "21" },
                variant_options: None,
                unmapped: false,
            },
            &mut out,
        );
        next_id += 1;
    }
    out
}

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Ava", "Liam", "Mia", "Noah", "Emma", "Lucas", "Sofia", "Elias", "Hannah", "Jonas", "Grace",
    "Mateo", "Chloe", "Felix", "Zoe", "Leon", "Nora", "Oscar", "Ruby", "Theo", "Isla", "Max",
    "Lena", "Omar", "Priya", "Kenji", "Amara", "Diego", "Ingrid", "Tomás",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Fischer",
    "Nguyen",
    "Garcia",
    "Smith",
    "Müller",
    "Okafor",
    "Johansson",
    "Rossi",
    "Patel",
    "Kowalski",
    "Brown",
    "Schneider",
    "Tanaka",
    "Dubois",
    "Hernández",
    "Walker",
    "Becker",
    "Silva",
    "O'Neill",
    "Lee",
    "Novak",
    "Weber",
    "Khan",
    "Martin",
    "Young",
    "Hoffmann",
    "Costa",
    "Evans",
    "Lindqvist",
    "Baker",
];

pub(crate) const COMPANIES: &[&str] = &[
    "Northwind Outfitters LLC",
    "Summit Supply Co.",
    "Riverbend Hardware Inc.",
    "Blue Ridge Traders",
    "Cascade Builders Group",
    "Prairie Tools & Co.",
];

/// (city, region, region_code, region_id, postcode prefix, country)
pub(crate) const US_PLACES: &[(&str, &str, &str, i64, &str, &str)] = &[
    ("Austin", "Texas", "TX", 57, "787", "US"),
    ("Portland", "Oregon", "OR", 49, "972", "US"),
    ("Denver", "Colorado", "CO", 13, "802", "US"),
    ("Columbus", "Ohio", "OH", 47, "432", "US"),
    ("Raleigh", "North Carolina", "NC", 44, "276", "US"),
    ("Madison", "Wisconsin", "WI", 64, "537", "US"),
];

pub(crate) const DE_PLACES: &[(&str, &str, &str, i64, &str, &str)] = &[
    ("Berlin", "Berlin", "BER", 82, "101", "DE"),
    ("Hamburg", "Hamburg", "HH", 84, "204", "DE"),
    ("München", "Bayern", "BAY", 81, "803", "DE"),
    ("Köln", "Nordrhein-Westfalen", "NRW", 88, "506", "DE"),
];

pub(crate) const STREETS: &[&str] = &[
    "Maple Avenue",
    "Oak Street",
    "Hauptstraße",
    "Cedar Lane",
    "Lindenweg",
    "Harbor Road",
    "Hill Street",
    "Schillerplatz",
];

//! Reference data: the GL accounts, product classes and branches the mapping names, checked against
//! SYSPRO and cached for [`super::EngineOptions::reference_ttl`].
//!
//! GL accounts are checked one by one with GENQGL. SYSPRO offers no query object for product
//! classes and branches, so each is checked with a small validate-only ARSTIN document (nothing is
//! posted) naming it: SYSPRO's field errors on `ProductClass` or `Branch` say which are missing.
//! Cash customers are looked up with COMFND. A code that is missing is left out of the cache, so every
//! document that needs it halts with a reason naming it.

use std::collections::BTreeSet;

use syspro_client::bo::{self, ArInvoiceItem, ArInvoicePosting};
use time::OffsetDateTime;

use super::{CallOutcome, Engine, EngineError, EngineEvent, System};
use crate::mapping::ReferenceData;

pub(crate) struct CachedReference {
    pub(crate) data: ReferenceData,
    pub(crate) loaded_at: OffsetDateTime,
}

impl Engine {
    /// The validated reference data, read again when older than the TTL.
    pub(crate) async fn reference(&self) -> Result<ReferenceData, EngineError> {
        let mut cache = self.inner.reference.lock().await;
        let now = self.inner.clock.now();
        let ttl = time::Duration::try_from(self.inner.options.reference_ttl)
            .unwrap_or(time::Duration::ZERO);
        if let Some(cached) = cache.as_ref()
            && now - cached.loaded_at < ttl
        {
            return Ok(cached.data.clone());
        }
        let data = self.load_reference().await?;
        *cache = Some(CachedReference {
            data: data.clone(),
            loaded_at: now,
        });
        Ok(data)
    }

    /// Forgets the cached reference data, so the next cycle reads it again (after a mapping or
    /// SYSPRO change).
    pub async fn invalidate_reference(&self) {
        *self.inner.reference.lock().await = None;
    }

    fn syspro_outcome<T>(&self, operation: &'static str, result: &Result<T, syspro_client::Error>) {
        let outcome = match result {
            Ok(_) => CallOutcome::Ok,
            Err(e) if e.is_outcome_unknown() => CallOutcome::OutcomeUnknown,
            Err(e) if super::worth_retrying(e) => CallOutcome::Transient,
            Err(syspro_client::Error::Rejected { .. }) => CallOutcome::Rejected,
            Err(_) => CallOutcome::Failed,
        };
        self.emit(EngineEvent::Call {
            system: System::Syspro,
            operation,
            outcome,
        });
    }

    /// Reports a SYSPRO call's outcome and wraps its error.
    pub(crate) fn syspro_call<T>(
        &self,
        operation: &'static str,
        result: Result<T, syspro_client::Error>,
    ) -> Result<T, EngineError> {
        self.syspro_outcome(operation, &result);
        result.map_err(|source| EngineError::Syspro { operation, source })
    }

    async fn load_reference(&self) -> Result<ReferenceData, EngineError> {
        let mapping = &self.inner.connection.mapping;
        let mut data = ReferenceData::default();

        let codes: BTreeSet<&str> = mapping
            .gl_accounts()
            .into_iter()
            .map(|(_, code)| code)
            .collect();
        for code in codes {
            let verdict = self.on_session(|s| s.validate_gl_code(code)).await;
            match self.syspro_call("GENQGL", verdict) {
                Ok(v) if v.is_valid() => {
                    data.gl_accounts.insert(code.to_owned());
                }
                Ok(syspro_client::bo::GlCodeValidation::Invalid { message, .. }) => {
                    self.emit(EngineEvent::ReferenceMissing {
                        what: "GL account",
                        code: code.to_owned(),
                        message,
                    });
                }
                Ok(_) => {}
                // A code SYSPRO refuses as malformed is as missing as an unknown one.
                Err(EngineError::Syspro {
                    source: syspro_client::Error::InvalidInput { expected, .. },
                    ..
                }) => self.emit(EngineEvent::ReferenceMissing {
                    what: "GL account",
                    code: code.to_owned(),
                    message: expected,
                }),
                Err(e) => return Err(e),
            }
        }

        let mut missing_cash = Vec::new();
        for (store, settings) in &mapping.stores {
            let Some(code) = &settings.cash_customer else {
                continue;
            };
            let query = bo::ComFind::new("ArCustomer")
                .columns(["Customer"])
                .filter(bo::Where::eq("Customer", code.as_str()))
                .return_rows(1);
            let found = self.on_session(|s| s.find(&query)).await;
            let result = self.syspro_call("COMFND", found)?;
            let exists = result.rows.iter().any(|row| {
                row.get("Customer")
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case(code.trim()))
            });
            if !exists {
                self.emit(EngineEvent::ReferenceMissing {
                    what: "cash customer",
                    code: code.clone(),
                    message: format!(
                        "mapping.stores.{store}.cash_customer is not a SYSPRO customer"
                    ),
                });
                missing_cash.push((code.clone(), store.clone()));
            }
        }
        let usable_cash = |code: &String| !missing_cash.iter().any(|(c, _)| c == code);

        let mut classes: BTreeSet<String> = BTreeSet::new();
        classes.insert(mapping.clearing_product_class.clone());
        classes.extend(
            mapping
                .stores
                .values()
                .filter_map(|s| s.product_class.clone()),
        );
        let mut branches: BTreeSet<String> =
            mapping.stores.values().map(|s| s.branch.clone()).collect();
        branches.extend(mapping.customers.create.branch.clone());
        let probe_customer = mapping
            .stores
            .values()
            .filter_map(|s| s.cash_customer.clone())
            .filter(usable_cash)
            .chain(mapping.customers.by_id.values().cloned())
            .chain(mapping.customers.by_email.values().cloned())
            .next();
        let Some(customer) = probe_customer else {
            for class in classes {
                self.emit(EngineEvent::ReferenceUnverified {
                    what: "product class",
                    code: class.clone(),
                });
                data.product_classes.insert(class);
            }
            for branch in branches {
                self.emit(EngineEvent::ReferenceUnverified {
                    what: "branch",
                    code: branch.clone(),
                });
                data.branches.insert(branch);
            }
            self.report_loaded(&data);
            *self
                .inner
                .missing_cash_customers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = missing_cash;
            return Ok(data);
        };

        // One item per code; the other field of each item is left to the customer's default.
        let today = self.inner.clock.now().date();
        let mut items = Vec::new();
        let mut probes = Vec::new();
        for class in &classes {
            let n = items.len() + 1;
            items.push(ArInvoiceItem::invoice(
                &customer,
                format!("MLCPROBE{n:06}"),
                today,
                rust_decimal::Decimal::ONE,
                class,
            ));
            probes.push(("product class", "ProductClass", class.clone()));
        }
        for branch in &branches {
            let n = items.len() + 1;
            let mut item = ArInvoiceItem::invoice(
                &customer,
                format!("MLCPROBE{n:06}"),
                today,
                rust_decimal::Decimal::ONE,
                &mapping.clearing_product_class,
            );
            item.branch = Some(branch.clone());
            items.push(item);
            probes.push(("branch", "Branch", branch.clone()));
        }
        // One validate-only document per code keeps each request small.
        for ((what, field, code), item) in probes.into_iter().zip(items) {
            let mut posting = ArInvoicePosting::new(vec![item]);
            posting.parameters.validate_only = true;
            let answer = self.on_session(|s| s.post_ar_invoices(&posting)).await;
            let result = self.syspro_call("ARSTIN", answer)?;
            let errors: Vec<String> = result
                .items
                .first()
                .map(|i| {
                    i.messages
                        .errors
                        .iter()
                        .filter(|e| e.field.eq_ignore_ascii_case(field))
                        .map(|e| e.description.clone())
                        .collect()
                })
                .unwrap_or_default();
            if errors.is_empty() {
                match what {
                    "branch" => data.branches.insert(code),
                    _ => data.product_classes.insert(code),
                };
            } else {
                self.emit(EngineEvent::ReferenceMissing {
                    what,
                    code,
                    message: errors.join("; "),
                });
            }
        }
        self.report_loaded(&data);
        *self
            .inner
            .missing_cash_customers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = missing_cash;
        Ok(data)
    }

    /// The store whose cash customer `code` is, when SYSPRO does not hold that customer.
    pub(crate) fn missing_cash_customer(&self, code: &str) -> Option<String> {
        self.inner
            .missing_cash_customers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, store)| store.clone())
    }

    fn report_loaded(&self, data: &ReferenceData) {
        self.emit(EngineEvent::ReferenceLoaded {
            gl_accounts: data.gl_accounts.len(),
            product_classes: data.product_classes.len(),
            branches: data.branches.len(),
        });
    }
}

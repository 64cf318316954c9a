//! The built-in rule set (`rules/default.yaml`) written by hand in Rust,
//! straight on the context's `serde_json::Value`s: the floor that any
//! evaluator of this data (ours included) is measured against in Bench 2.
//!
//! It is written the way a careful programmer would write it for speed:
//! each item is classified once (Microsoft NCE, Microsoft CREATE) instead of
//! once per rule, the same regular expressions (the `regex` crate, compiled
//! once) and the same date parsing (`jiff`) as the built-in set, and it
//! returns only each rule's outcome and failing elements (no titles,
//! messages or evidence). The bench asserts that it gives the engine's
//! outcomes and failing elements on every context it times.

use std::borrow::Cow;

use ion_preflight::context::Context;
use regex::Regex;
use serde_json::Value;

/// A rule's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// One rule's result: its id, outcome and the indexes of failing elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleOutcome {
    pub rule: &'static str,
    pub outcome: Outcome,
    pub failing: Vec<usize>,
}

/// The compiled patterns and lists of the built-in set.
pub struct Native {
    nce_sku: Regex,
    nce_product: Regex,
    ms_sku: Regex,
    ms_product: Regex,
    new_tenant_domain: Regex,
    ms_short_name: Regex,
    ms_display_name: Regex,
    tenant_guid: Regex,
    email: Regex,
    /// ISO 3166-1 alpha-2 codes, sorted (read from rules/default.yaml).
    countries: Vec<String>,
}

impl Native {
    /// Compiles the patterns; the country list is read from the built-in
    /// file so the two cannot drift apart.
    pub fn new() -> Native {
        let re = |p: &str| Regex::new(p).expect("a valid pattern");
        Native {
            nce_sku: re("(?i)^CFQ7TTC0"),
            nce_product: re("(?i)(^|[^a-z0-9])nce([^a-z0-9]|$)|new[-_ ]?commerce"),
            ms_sku: re("(?i)^(DZH318Z0|DG7GMGF0)"),
            ms_product: re(
                "(?i)microsoft|azure|(^|[^a-z0-9])(m365|o365|office[-_ ]?365|dynamics[-_ ]?365)([^a-z0-9]|$)",
            ),
            new_tenant_domain: re(r"(?i)^[a-z0-9]([a-z0-9-]{0,25}[a-z0-9])?\.onmicrosoft\.com$"),
            ms_short_name: re("(?i)^(azure|microsoft|msft|ms|mscsp|m365|o365)$"),
            ms_display_name: re("(?i)microsoft|azure|office ?365"),
            tenant_guid: re(
                "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
            ),
            email: re(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"),
            countries: builtin_countries(),
        }
    }

    /// Every rule of the built-in set, in file order.
    pub fn check<'a>(&self, ctx: &'a Context) -> Vec<RuleOutcome> {
        let customer = ctx.customer.value();
        let profiles: &[Value] = ctx
            .cloud_profiles
            .value()
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let items: Option<&[Value]> = ctx
            .order
            .as_ref()
            .and_then(|o| o.get("orderItems"))
            .and_then(Value::as_array)
            .map(Vec::as_slice);
        let parsed: Vec<Item<'_>> = items.unwrap_or(&[]).iter().map(Item::read).collect();
        let items: Option<&[Item<'_>]> = items.map(|_| parsed.as_slice());
        let latest_agreement = ctx
            .now
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap_or(ctx.now);

        // Classification, once per item and profile.
        let nce: Vec<bool> = parsed.iter().map(|i| self.nce(i)).collect();
        let ms_create: Vec<bool> = parsed
            .iter()
            .zip(&nce)
            .map(|(i, &nce)| (nce || self.microsoft_other(i)) && str_is(i.action, "CREATE"))
            .collect();
        let tenant_profile = profiles.iter().any(|p| self.tenant_profile(p));
        let enabled_ms: Vec<bool> = profiles
            .iter()
            .map(|p| self.ms_profile(p) && p.get("enabled") == Some(&Value::Bool(true)))
            .collect();

        let exists = customer.is_some();
        let mut out = Vec::with_capacity(39);
        let mut push = |rule: &'static str, (outcome, failing): (Outcome, Vec<usize>)| {
            out.push(RuleOutcome {
                rule,
                outcome,
                failing,
            })
        };
        let field = |name: &str| customer.and_then(|c| c.get(name));
        let address = |name: &str| field("customerAddress").and_then(|a| a.get(name));

        push("customer-exists", single(exists));
        push(
            "customer-active",
            requires(exists, || {
                let s = field("customerStatus");
                single(
                    s.and_then(Value::as_str).is_some_and(|s| {
                        s.eq_ignore_ascii_case("ACTIVE")
                            || s.eq_ignore_ascii_case("CUSTOMER_STATUS_UNSPECIFIED")
                    }) || s.is_none()
                        || s.is_some_and(Value::is_null)
                        || s.is_some_and(is_empty),
                )
            }),
        );
        push(
            "order-has-items",
            single(items.is_some_and(|i| !i.is_empty())),
        );
        push(
            "order-item-required-fields",
            each(items, |_, i| {
                Some(
                    non_empty(i.action)
                        && non_empty(i.product_id)
                        && non_empty(i.sku_id)
                        && non_empty(i.plan_id)
                        && i.quantity.is_some_and(|q| !q.is_null()),
                )
            }),
        );
        push(
            "order-item-attributes-present",
            each(items, |_, i| {
                Some(i.attributes.is_some_and(Value::is_array))
            }),
        );
        push(
            "order-item-action-allowed",
            each(items, |_, i| {
                non_empty(i.action).then(|| create_or_update(i.action))
            }),
        );
        push(
            "order-item-quantity-positive-integer",
            each(items, |_, i| {
                let q = i.quantity.filter(|q| !q.is_null())?;
                Some(positive_int32(q))
            }),
        );
        push(
            "update-item-has-resource-id",
            each(items, |_, i| {
                str_is(i.action, "UPDATE").then(|| non_empty(i.resource_id))
            }),
        );
        push(
            "azure-create-has-domain-name",
            each(items, |_, i| {
                let azure_create = i
                    .provider_name
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.eq_ignore_ascii_case("AZURE"))
                    && str_is(i.action, "CREATE");
                azure_create.then(|| non_empty(i.domain_name.flatten()))
            }),
        );
        push(
            "addon-required-fields",
            each(items, |_, i| {
                let a = add_ons(i)?;
                Some(
                    !a.is_empty()
                        && a.iter().all(|a| {
                            non_empty(a.get("id"))
                                && non_empty(a.get("addOnId"))
                                && non_empty(a.get("planId"))
                                && non_empty(a.get("action"))
                                && a.get("quantity").is_some_and(|q| !q.is_null())
                        }),
                )
            }),
        );
        push(
            "addon-action-allowed",
            each(items, |_, i| {
                let a = add_ons(i)?;
                Some(
                    !a.is_empty()
                        && a.iter().all(|a| {
                            let action = a.get("action");
                            !non_empty(action) || create_or_update(action)
                        }),
                )
            }),
        );
        push(
            "addon-quantity-positive-integer",
            each(items, |_, i| {
                let a = add_ons(i)?;
                Some(
                    !a.is_empty()
                        && a.iter().all(|a| match a.get("quantity") {
                            None | Some(Value::Null) => true,
                            Some(q) => positive_int32(q),
                        }),
                )
            }),
        );
        push(
            "nce-item-has-microsoft-tenant",
            requires(exists, || {
                each(items, |n, i| {
                    nce[n].then(|| {
                        tenant_profile
                            || (str_is(i.action, "CREATE")
                                && i.domain_name
                                    .flatten()
                                    .and_then(Value::as_str)
                                    .is_some_and(|d| self.new_tenant_domain.is_match(d)))
                    })
                })
            }),
        );
        push(
            "mca-attestation-present",
            each(items, |n, i| {
                ms_create[n].then(|| {
                    [i.first_name, i.last_name, i.email, i.date_agreed]
                        .into_iter()
                        .all(|a| non_empty(a.flatten()))
                })
            }),
        );
        push(
            "mca-attestation-email-valid",
            each(items, |n, i| {
                let email = i.email.flatten();
                (ms_create[n] && non_empty(email)).then(|| {
                    email
                        .and_then(Value::as_str)
                        .is_some_and(|e| self.email.is_match(e))
                })
            }),
        );
        push(
            "mca-attestation-date-valid",
            each(items, |n, i| {
                let date = i.date_agreed.flatten();
                (ms_create[n] && non_empty(date)).then(|| {
                    date.and_then(Value::as_str)
                        .and_then(parse_date)
                        .is_some_and(|d| d <= latest_agreement)
                })
            }),
        );
        push(
            "customer-email-valid",
            requires(exists, || {
                single(
                    field("customerEmail")
                        .and_then(Value::as_str)
                        .is_some_and(|e| self.email.is_match(e)),
                )
            }),
        );
        push(
            "customer-address-complete",
            requires(exists, || {
                single(
                    ["street", "city", "state", "zip", "country"]
                        .iter()
                        .all(|f| non_empty(address(f))),
                )
            }),
        );
        push(
            "customer-address-country-code",
            requires(exists, || {
                let country = address("country");
                if !non_empty(country) {
                    return (Outcome::Skip, Vec::new());
                }
                single(country.and_then(Value::as_str).is_some_and(|c| {
                    self.countries
                        .binary_search_by(|x| x.as_str().cmp(c))
                        .is_ok()
                }))
            }),
        );
        let gdap_active = |p: &Value| {
            p.get("gdapStatus")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("ACTIVE"))
        };
        let profile_list = ctx
            .cloud_profiles
            .value()
            .and_then(Value::as_array)
            .map(Vec::as_slice);
        push(
            "microsoft-profile-delegated-access",
            requires(exists, || {
                each(profile_list, |n, p| {
                    enabled_ms[n].then(|| {
                        p.get("allowDelegatedAccess") == Some(&Value::Bool(true)) || gdap_active(p)
                    })
                })
            }),
        );
        push(
            "microsoft-profile-gdap-active",
            requires(exists, || {
                each(profile_list, |n, p| {
                    (enabled_ms[n] && non_empty(p.get("gdapStatus"))).then(|| gdap_active(p))
                })
            }),
        );
        push(
            "microsoft-profile-agreement-accepted",
            requires(exists, || {
                each(profile_list, |n, p| {
                    (enabled_ms[n] && non_empty(p.get("agreementStatus"))).then(|| {
                        p.get("agreementStatus")
                            .and_then(Value::as_str)
                            .is_some_and(|s| {
                                [
                                    "ACCEPTED",
                                    "ACTIVE",
                                    "AGREED",
                                    "SIGNED",
                                    "COMPLETED",
                                    "COMPLETE",
                                    "VALID",
                                ]
                                .iter()
                                .any(|a| s.eq_ignore_ascii_case(a))
                            })
                    })
                })
            }),
        );

        // The catalog: each item's product found once, and its SKU list.
        let catalog: Vec<Option<&Value>> = parsed.iter().map(|i| product(ctx, i)).collect();
        let skus = |p: &'a Value| p.get("definition").and_then(|d| d.get("skus"));
        let product_add_ons = |p: &'a Value| p.get("definition").and_then(|d| d.get("addOns"));
        let keys: Vec<ItemKeys<'_>> = parsed.iter().map(ItemKeys::read).collect();
        let sku_is = |s: &Value, k: &ItemKeys<'_>| keyed(Some(s), Some("id"), k.sku.as_deref());

        let product_exists = each(items, |n, i| {
            non_empty(i.product_id).then(|| catalog[n].is_some())
        });
        let product_exists_pass = product_exists.0 == Outcome::Pass;
        push("catalog-product-exists", product_exists);
        push(
            "catalog-product-enabled",
            each(items, |n, _| {
                catalog[n].map(|p| p.get("disabled") != Some(&Value::Bool(true)))
            }),
        );
        let sku_of_product = requires(product_exists_pass, || {
            each(items, |n, i| {
                let p = catalog[n]?;
                non_empty(i.sku_id).then(|| some(skus(p), |s| sku_is(s, &keys[n])))
            })
        });
        let sku_of_product_pass = sku_of_product.0 == Outcome::Pass;
        push("catalog-sku-of-product", sku_of_product);
        push(
            "catalog-sku-enabled",
            requires(sku_of_product_pass, || {
                each(items, |n, _| {
                    catalog[n].map(|p| {
                        none(skus(p), |s| {
                            sku_is(s, &keys[n]) && s.get("disabled") == Some(&Value::Bool(true))
                        })
                    })
                })
            }),
        );
        push(
            "catalog-plan-of-sku",
            requires(sku_of_product_pass, || {
                each(items, |n, i| {
                    let p = catalog[n]?;
                    (non_empty(i.sku_id) && non_empty(i.plan_id)).then(|| {
                        some(skus(p), |s| {
                            sku_is(s, &keys[n])
                                && keyed(s.get("plans"), Some("id"), keys[n].plan.as_deref())
                        })
                    })
                })
            }),
        );
        push(
            "catalog-sku-available",
            requires(sku_of_product_pass, || {
                each(items, |n, _| {
                    catalog[n].map(|p| {
                        none(skus(p), |s| {
                            sku_is(s, &keys[n])
                                && s.get("productAvailability") == Some(&Value::Bool(false))
                        })
                    })
                })
            }),
        );
        push(
            "catalog-addon-of-product",
            requires(sku_of_product_pass, || {
                each(items, |n, i| {
                    let p = catalog[n]?;
                    (non_empty(i.sku_id) && non_empty(i.add_ons)).then(|| {
                        every(i.add_ons, |a| {
                            let id = a.get("addOnId");
                            if !non_empty(id) {
                                return true;
                            }
                            let id = id.and_then(key_text);
                            let id = id.as_deref();
                            keyed(product_add_ons(p), Some("id"), id)
                                && some(skus(p), |s| {
                                    sku_is(s, &keys[n])
                                        && (keyed(s.get("availableAddOns"), None, id)
                                            || keyed(s.get("includedAddOns"), None, id))
                                })
                        })
                    })
                })
            }),
        );
        push(
            "catalog-addon-plan",
            each(items, |n, i| {
                let p = catalog[n]?;
                non_empty(i.add_ons).then(|| {
                    every(i.add_ons, |a| {
                        let id = a.get("addOnId").and_then(key_text);
                        let Some(add_on) =
                            find_keyed(product_add_ons(p), Some("id"), id.as_deref())
                        else {
                            return true;
                        };
                        let plan = a.get("planId");
                        !non_empty(plan)
                            || keyed(
                                add_on.get("plans"),
                                Some("id"),
                                plan.and_then(key_text).as_deref(),
                            )
                    })
                })
            }),
        );
        push(
            "catalog-addon-single",
            each(items, |n, i| {
                let p = catalog[n]?;
                non_empty(i.add_ons).then(|| {
                    none(i.add_ons, |a| {
                        let id = a.get("addOnId").and_then(key_text);
                        find_keyed(product_add_ons(p), Some("id"), id.as_deref())
                            .and_then(|o| o.get("allowMultiple"))
                            == Some(&Value::Bool(false))
                            && a.get("quantity")
                                .and_then(Value::as_f64)
                                .is_some_and(|q| q > 1.0)
                    })
                })
            }),
        );

        // The subscription each UPDATE names, found once per item.
        let customer_key = ctx.customer_id.to_string();
        let mine = |s: &Value| keyed(Some(s), Some("customerId"), Some(&customer_key));
        let updates: Vec<Option<&Value>> = parsed
            .iter()
            .map(|i| {
                if str_is(i.action, "UPDATE") && non_empty(i.resource_id) {
                    subscriptions(ctx, i)
                } else {
                    None
                }
            })
            .collect();
        // `when` of the rules about a subscription of this customer.
        let of_customer: Vec<bool> = updates.iter().map(|s| some(*s, mine)).collect();
        let subscription_of_customer = requires(exists, || {
            each(items, |n, _| {
                let subs = updates[n].filter(|s| non_empty(Some(s)))?;
                Some(some(Some(subs), mine))
            })
        });
        let subscription_of_customer_pass = subscription_of_customer.0 == Outcome::Pass;
        push("update-subscription-of-customer", subscription_of_customer);
        push(
            "update-subscription-active",
            requires(subscription_of_customer_pass, || {
                each(items, |n, _| {
                    of_customer[n].then(|| some(updates[n], |s| mine(s) && subscription_active(s)))
                })
            }),
        );
        push(
            "update-subscription-found",
            requires(exists, || {
                each(items, |_, i| {
                    (str_is(i.action, "UPDATE") && non_empty(i.resource_id))
                        .then(|| non_empty(subscriptions(ctx, i)))
                })
            }),
        );
        push(
            "update-subscription-same-product",
            requires(subscription_of_customer_pass, || {
                each(items, |n, _| {
                    of_customer[n].then(|| {
                        some(updates[n], |s| {
                            mine(s)
                                && keyed(Some(s), Some("ccpProductId"), keys[n].product.as_deref())
                                && keyed(Some(s), Some("ccpSkuId"), keys[n].sku.as_deref())
                        })
                    })
                })
            }),
        );
        let customer_subscriptions = ctx
            .customer_subscriptions
            .value()
            .and_then(|v| v.get("subscriptions"));
        push(
            "create-duplicates-subscription",
            requires(exists, || {
                each(items, |n, i| {
                    str_is(i.action, "CREATE").then(|| {
                        none(customer_subscriptions, |s| {
                            keyed(Some(s), Some("ccpProductId"), keys[n].product.as_deref())
                                && keyed(Some(s), Some("ccpSkuId"), keys[n].sku.as_deref())
                                && subscription_active(s)
                        })
                    })
                })
            }),
        );

        // The order placed already.
        let order = ctx.order.as_deref();
        let reference = order.and_then(|o| o.get("referenceId"));
        let placed = ctx.placed_orders.value();
        let has_reference = non_empty(reference);
        push(
            "order-not-placed-already",
            requires(exists && order.is_some() && has_reference, || {
                let reference = reference.and_then(key_text);
                single(none(placed.and_then(|p| p.get("orders")), |p| {
                    keyed(Some(p), Some("referenceId"), reference.as_deref())
                        && !p.get("status").and_then(Value::as_str).is_some_and(|s| {
                            ["CANCELED", "CANCELLED", "ERROR"]
                                .iter()
                                .any(|v| s.eq_ignore_ascii_case(v))
                        })
                }))
            }),
        );
        push(
            "order-has-reference-id",
            requires(order.is_some(), || single(has_reference)),
        );
        push(
            "placed-orders-scan-complete",
            requires(exists && order.is_some() && has_reference, || {
                single(placed.and_then(|p| p.get("complete")) == Some(&Value::Bool(true)))
            }),
        );
        out
    }

    /// `microsoft-nce-item`.
    fn nce(&self, item: &Item<'_>) -> bool {
        item.provider_name
            .and_then(Value::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case("AZURE"))
            || item
                .sku_id
                .and_then(Value::as_str)
                .is_some_and(|s| self.nce_sku.is_match(s))
            || item
                .product_id
                .and_then(Value::as_str)
                .is_some_and(|p| self.nce_product.is_match(p))
    }

    /// The rest of `microsoft-item` (after `microsoft-nce-item`).
    fn microsoft_other(&self, item: &Item<'_>) -> bool {
        item.provider_name.and_then(Value::as_str).is_some_and(|p| {
            ["MICROSOFT", "MSFT", "MICROSOFT_CSP"]
                .iter()
                .any(|m| p.eq_ignore_ascii_case(m))
        }) || item
            .sku_id
            .and_then(Value::as_str)
            .is_some_and(|s| self.ms_sku.is_match(s))
            || item
                .product_id
                .and_then(Value::as_str)
                .is_some_and(|p| self.ms_product.is_match(p))
    }

    /// `microsoft-profile`.
    fn ms_profile(&self, p: &Value) -> bool {
        p.get("shortName")
            .and_then(Value::as_str)
            .is_some_and(|s| self.ms_short_name.is_match(s))
            || p.get("displayName")
                .and_then(Value::as_str)
                .is_some_and(|s| self.ms_display_name.is_match(s))
    }

    /// `microsoft-tenant-profile`.
    fn tenant_profile(&self, p: &Value) -> bool {
        self.ms_profile(p)
            && p.get("enabled") == Some(&Value::Bool(true))
            && p.get("customerTenantId")
                .and_then(Value::as_str)
                .is_some_and(|t| {
                    self.tenant_guid.is_match(t) && t != "00000000-0000-0000-0000-000000000000"
                })
    }
}

/// `products[item.productId]`: the product, when the catalog has it (the
/// bench's contexts have every product fetched: a product not fetched is
/// the engine's `error`, which the bench asserts it never sees).
fn product<'a>(ctx: &'a Context, item: &Item<'a>) -> Option<&'a Value> {
    let id = item.product_id.and_then(key_text)?;
    ctx.products
        .get(id.as_ref())?
        .value()
        .filter(|v| !v.is_null())
}

/// `subscriptions[item.resourceId]`: what ION listed for the resourceId.
fn subscriptions<'a>(ctx: &'a Context, item: &Item<'a>) -> Option<&'a Value> {
    let id = item.resource_id.and_then(key_text)?;
    ctx.subscriptions
        .get(id.as_ref())?
        .value()
        .filter(|v| !v.is_null())
}

/// The keys an item's catalog and subscription rules compare with, as
/// text, once per item.
struct ItemKeys<'a> {
    product: Option<Cow<'a, str>>,
    sku: Option<Cow<'a, str>>,
    plan: Option<Cow<'a, str>>,
}

impl<'a> ItemKeys<'a> {
    fn read(item: &Item<'a>) -> ItemKeys<'a> {
        ItemKeys {
            product: item.product_id.and_then(key_text),
            sku: item.sku_id.and_then(key_text),
            plan: item.plan_id.and_then(key_text),
        }
    }
}

/// A value as a key: strings as they are, numbers in their JSON form (ION
/// writes int64 ids as strings), anything else no key.
fn key_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// `v[field=$key]` (or `v[=$key]`): the first element of a list whose
/// `field` (or which) is `key`; a record whose `field` is `key`; a map's
/// entry `key`.
fn find_keyed<'a>(
    v: Option<&'a Value>,
    field: Option<&str>,
    key: Option<&str>,
) -> Option<&'a Value> {
    let key = key?;
    let is = |x: Option<&Value>| x.and_then(key_text).is_some_and(|t| t == key);
    match (v?, field) {
        (Value::Array(a), Some(f)) => a.iter().find(|e| is(e.as_object().and_then(|m| m.get(f)))),
        (Value::Array(a), None) => a.iter().find(|e| is(Some(e))),
        (v @ Value::Object(m), Some(f)) => is(m.get(f)).then_some(v),
        (Value::Object(m), None) => m.get(key),
        _ => None,
    }
}

/// `v[field=$key]` exists.
fn keyed(v: Option<&Value>, field: Option<&str>, key: Option<&str>) -> bool {
    find_keyed(v, field, key).is_some()
}

/// `some`: a list with an element for which `f` holds (missing or null is
/// no elements; anything but a list is false).
fn some(list: Option<&Value>, f: impl FnMut(&Value) -> bool) -> bool {
    match list {
        Some(Value::Array(a)) => a.iter().any(f),
        _ => false,
    }
}

/// `every`.
fn every(list: Option<&Value>, f: impl FnMut(&Value) -> bool) -> bool {
    match list {
        Some(Value::Array(a)) => a.iter().all(f),
        None | Some(Value::Null) => true,
        Some(_) => false,
    }
}

/// `none`.
fn none(list: Option<&Value>, f: impl FnMut(&Value) -> bool) -> bool {
    match list {
        Some(Value::Array(a)) => !a.iter().any(f),
        None | Some(Value::Null) => true,
        Some(_) => false,
    }
}

/// `subscription-active`.
fn subscription_active(s: &Value) -> bool {
    s.get("subscriptionStatus")
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("ACTIVE"))
}

/// A rule without `for_each`.
fn single(pass: bool) -> (Outcome, Vec<usize>) {
    (if pass { Outcome::Pass } else { Outcome::Fail }, Vec::new())
}

/// `requires: [customer-exists]`.
fn requires(exists: bool, rule: impl FnOnce() -> (Outcome, Vec<usize>)) -> (Outcome, Vec<usize>) {
    if exists {
        rule()
    } else {
        (Outcome::Skip, Vec::new())
    }
}

/// A `for_each` rule: `check` answers `None` when the precondition does not
/// hold, else whether the element passes.
fn each<T>(
    list: Option<&[T]>,
    mut check: impl FnMut(usize, &T) -> Option<bool>,
) -> (Outcome, Vec<usize>) {
    let Some(list) = list else {
        return (Outcome::Skip, Vec::new());
    };
    let mut checked = 0;
    let mut failing = Vec::new();
    for (n, element) in list.iter().enumerate() {
        if let Some(pass) = check(n, element) {
            checked += 1;
            if !pass {
                failing.push(n);
            }
        }
    }
    let outcome = if checked == 0 {
        Outcome::Skip
    } else if failing.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    (outcome, failing)
}

/// The fields of an order item the rules read, found in one pass over the
/// item (and one over its attributes): what a speed-minded hand-written
/// check does instead of a map lookup per field and rule.
#[derive(Default)]
struct Item<'a> {
    action: Option<&'a Value>,
    product_id: Option<&'a Value>,
    sku_id: Option<&'a Value>,
    plan_id: Option<&'a Value>,
    quantity: Option<&'a Value>,
    resource_id: Option<&'a Value>,
    provider_name: Option<&'a Value>,
    attributes: Option<&'a Value>,
    add_ons: Option<&'a Value>,
    /// `attributes[name=…].value`: the first attribute with the name
    /// decides, even when it has no value.
    domain_name: Option<Option<&'a Value>>,
    first_name: Option<Option<&'a Value>>,
    last_name: Option<Option<&'a Value>>,
    email: Option<Option<&'a Value>>,
    date_agreed: Option<Option<&'a Value>>,
}

impl<'a> Item<'a> {
    fn read(item: &'a Value) -> Item<'a> {
        let mut it = Item::default();
        let Value::Object(m) = item else {
            return it;
        };
        for (k, v) in m {
            match k.as_str() {
                "action" => it.action = Some(v),
                "productId" => it.product_id = Some(v),
                "skuId" => it.sku_id = Some(v),
                "planId" => it.plan_id = Some(v),
                "quantity" => it.quantity = Some(v),
                "resourceId" => it.resource_id = Some(v),
                "providerName" => it.provider_name = Some(v),
                "attributes" => it.attributes = Some(v),
                "addOns" => it.add_ons = Some(v),
                _ => {}
            }
        }
        for a in it
            .attributes
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let Value::Object(am) = a else { continue };
            let (mut name, mut value) = (None, None);
            for (k, v) in am {
                match k.as_str() {
                    "name" => name = v.as_str(),
                    "value" => value = Some(v),
                    _ => {}
                }
            }
            let slot = match name {
                Some("domainName") => &mut it.domain_name,
                Some("agreementFirstName") => &mut it.first_name,
                Some("agreementLastName") => &mut it.last_name,
                Some("agreementEmail") => &mut it.email,
                Some("agreementDateAgreed") => &mut it.date_agreed,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        it
    }
}

/// An item's add-ons when `item.addOns` is non-empty (none when it is not a
/// list: `every` is then false).
fn add_ons<'a>(item: &Item<'a>) -> Option<&'a [Value]> {
    let a = item.add_ons;
    non_empty(a).then(|| a.and_then(Value::as_array).map_or(&[][..], Vec::as_slice))
}

/// `non_empty: true`: present, not null, not blank.
fn non_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(other) => !is_empty(other),
    }
}

/// `empty: true`: an empty string, list or object.
fn is_empty(v: &Value) -> bool {
    let len = match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => return false,
    };
    len == 0
}

fn str_is(v: Option<&Value>, s: &str) -> bool {
    v.and_then(Value::as_str) == Some(s)
}

fn create_or_update(v: Option<&Value>) -> bool {
    str_is(v, "CREATE") || str_is(v, "UPDATE")
}

/// `type: integer` and `gte: 1, lte: 2147483647`.
fn positive_int32(q: &Value) -> bool {
    let integer = q.is_i64() || q.is_u64() || q.as_f64().is_some_and(|f| f.fract() == 0.0);
    integer
        && q.as_f64()
            .is_some_and(|n| (1.0..=2_147_483_647.0).contains(&n))
}

/// An RFC 3339 timestamp, or a calendar date (its midnight UTC), as
/// `type: date` reads it.
fn parse_date(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    s.parse().ok().or_else(|| {
        let day = s.parse::<jiff::civil::Date>().ok()?;
        Some(day.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp())
    })
}

/// The `one_of` list of `customer-address-country-code` in the built-in file.
fn builtin_countries() -> Vec<String> {
    // Through the crate's positioned YAML tree: its keys are always text
    // (`null: true` has a key that serde_json could not hold).
    let doc =
        ion_preflight::rules::schema::rule_file_instance(include_str!("../../rules/default.yaml"))
            .expect("the built-in rule file parses");
    let rule = doc["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == "customer-address-country-code")
        .expect("the country rule");
    let mut codes: Vec<String> = rule["assert"]["one_of"]
        .as_array()
        .expect("a one_of list")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    codes.sort();
    codes
}

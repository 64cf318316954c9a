# Bench 1: the two rules of issue 6 in Rego, for regorus. Same semantics as
# two-rules.yaml; `outcomes` gives each rule's outcome as ion-preflight names it.
package preflight

import rego.v1

nce_item(item) if item.providerName == "AZURE"

nce_item(item) if startswith(item.skuId, "CFQ7TTC0")

has_nce if {
	some item in input.order.orderItems
	nce_item(item)
}

tenant_profile(p) if {
	p.shortName in {"AZURE", "MICROSOFT"}
	p.enabled == true
	trim_space(p.customerTenantId) != ""
}

has_tenant if {
	some p in input.cloudProfiles
	tenant_profile(p)
}

default customer_active := "fail"

customer_active := "pass" if input.customer.customerStatus == "ACTIVE"

default nce_has_tenant := "skip"

nce_has_tenant := "pass" if {
	has_nce
	has_tenant
}

nce_has_tenant := "fail" if {
	has_nce
	not has_tenant
}

outcomes := {"customer-active": customer_active, "nce-has-tenant": nce_has_tenant}

"""The status mapping (ARCHITECTURE.md §2, contract): the desired MALL status, a pure function of FastCentrik's side."""

from __future__ import annotations

from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

_F = FastCentrikStatus

STATUS_MAPPING: dict[FastCentrikStatus, MallStatus] = {
    _F.PENDING: MallStatus.OPEN,
    _F.PARTIALLY_SETTLED: MallStatus.SHIPPING,  # still being fulfilled; MALL has no partial shipment
    _F.IN_PROCESS: MallStatus.SHIPPING,
    _F.SETTLED: MallStatus.SHIPPED,  # DELIVERED once FastCentrik has a delivery date
    _F.CANCELLED: MallStatus.CANCELLED,
}


def desired_mall_status(status: FastCentrikStatus, *, has_delivery_date: bool) -> MallStatus:
    """The MALL status an order should have, given its FastCentrik status and whether it has a delivery date."""
    if status is _F.SETTLED and has_delivery_date:
        return MallStatus.DELIVERED
    return STATUS_MAPPING[status]

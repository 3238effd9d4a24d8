package sandbox

import (
	"fmt"
	"slices"
)

// Currency is the only currency of the sandbox.
const Currency = "USD"

// Magic values: documented inputs that force an outcome, like Stripe's test cards (the table
// in README.md). Magic amounts are accepted for every product, whatever its denominations or
// bounds.
const (
	// AmountOutOfStock makes an order fail with vendor_out_of_stock after the usual delay.
	AmountOutOfStock int64 = 13
	// AmountTimeout makes an order fail with vendor_timeout after Config.TimeoutDelay.
	AmountTimeout int64 = 42
	// ProductInsufficient is refused at creation with insufficient_balance whatever the
	// balance, and nothing is written.
	ProductInsufficient = "sbx_insufficient"
)

// Product is one catalog entry. A product has either fixed Denominations or a range from
// MinAmountCents to MaxAmountCents.
type Product struct {
	// ID is the product id orders name.
	ID string `json:"id" doc:"The id orders name."`
	// Name is the product's display name.
	Name string `json:"name" doc:"The display name."`
	// Brand is the card's brand.
	Brand string `json:"brand" doc:"The card's brand."`
	// Currency is always Currency.
	Currency string `json:"currency" enum:"USD" doc:"ISO 4217 currency code."`
	// Denominations are the accepted amounts in cents; empty for a range product.
	Denominations []int64 `json:"denominations,omitempty" doc:"The accepted amounts in cents; absent for a range product."`
	// MinAmountCents is the smallest accepted amount of a range product.
	MinAmountCents int64 `json:"min_amount_cents,omitempty" doc:"The smallest accepted amount of a range product."`
	// MaxAmountCents is the largest accepted amount of a range product.
	MaxAmountCents int64 `json:"max_amount_cents,omitempty" doc:"The largest accepted amount of a range product."`
}

// catalog is the sandbox's fixed product list (documented in README.md). Brands are
// fictional so nobody mistakes a sandbox card for a real one.
var catalog = []Product{
	{ID: "sbx_amazing_books", Name: "Amazing Books gift card", Brand: "Amazing Books", Currency: Currency, Denominations: []int64{1000, 2500, 5000, 10000}},
	{ID: "sbx_coffee_cloud", Name: "Coffee Cloud gift card", Brand: "Coffee Cloud", Currency: Currency, Denominations: []int64{500, 1000, 2500}},
	{ID: "sbx_game_galaxy", Name: "Game Galaxy digital code", Brand: "Game Galaxy", Currency: Currency, MinAmountCents: 500, MaxAmountCents: 20000},
	{ID: "sbx_open_prepaid", Name: "Open prepaid card (any amount)", Brand: "Steller Sandbox", Currency: Currency, MinAmountCents: 1, MaxAmountCents: 100000},
	{ID: ProductInsufficient, Name: "Always refused: insufficient balance", Brand: "Steller Sandbox", Currency: Currency, MinAmountCents: 1, MaxAmountCents: 100000},
}

// Catalog returns a copy of the sandbox's products.
func Catalog() []Product { return catalogFor(true) }

// LiveCatalog returns a copy of the live vendor stand-in's products: the sandbox's, so an
// integration built on the sandbox runs unchanged, without the magic product.
func LiveCatalog() []Product { return catalogFor(false) }

// catalogFor returns the products of a mode with (magic) or without the magic values.
func catalogFor(magic bool) []Product {
	out := make([]Product, 0, len(catalog))
	for _, p := range catalog {
		if p.ID == ProductInsufficient && !magic {
			continue
		}
		p.Denominations = slices.Clone(p.Denominations)
		out = append(out, p)
	}
	return out
}

func findProduct(id string, magic bool) (Product, bool) {
	for _, p := range catalog {
		if p.ID == id && (magic || p.ID != ProductInsufficient) {
			return p, true
		}
	}
	return Product{}, false
}

// checkAmount reports why amount is not acceptable for p, or "" when it is; with magic,
// the magic amounts are acceptable for every product.
func (p Product) checkAmount(amount int64, magic bool) string {
	switch {
	case amount <= 0:
		return "amount_cents must be a positive number of cents"
	case magic && (amount == AmountOutOfStock || amount == AmountTimeout):
		return ""
	case len(p.Denominations) > 0:
		if slices.Contains(p.Denominations, amount) {
			return ""
		}
		return fmt.Sprintf("amount_cents must be one of %v for %s", p.Denominations, p.ID)
	case amount < p.MinAmountCents || amount > p.MaxAmountCents:
		return fmt.Sprintf("amount_cents must be between %d and %d for %s", p.MinAmountCents, p.MaxAmountCents, p.ID)
	}
	return ""
}

// plannedOutcome is what the worker will do with a new order: "completed" or, with magic,
// the failure reason a magic amount forces.
func plannedOutcome(amount int64, magic bool) string {
	if !magic {
		return StatusCompleted
	}
	switch amount {
	case AmountOutOfStock:
		return reasonOutOfStock
	case AmountTimeout:
		return reasonTimeout
	}
	return StatusCompleted
}

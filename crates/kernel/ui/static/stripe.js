// Stripe's hosted card fields (the Payment Element) on the payment page, when LSN runs with
// Stripe keys. The card number goes from the browser to Stripe, never to LSN.
const form = document.getElementById("stripe-form");
if (form && window.Stripe) {
  const stripe = window.Stripe(form.dataset.stripeKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  elements.create("payment").mount("#payment-element");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const { error } = await stripe.confirmPayment({ elements, confirmParams: { return_url: form.dataset.returnUrl } });
    // Only reached when the payment could not be confirmed (success redirects to return_url).
    document.getElementById("stripe-error").textContent = error?.message || form.dataset.failed;
    button.disabled = false;
  });
}

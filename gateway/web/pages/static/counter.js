// The counter form: service search as you type, the cap and its breakdown from the tariff in force, the amount held
// to the cap, the national code's check digit as you type, and "waiting for the card" once the form is sent.
// Without this script the form still works: the server resolves the service typed and refuses what breaks a rule.
"use strict";

const PERSIAN = "۰۱۲۳۴۵۶۷۸۹", ARABIC = "٠١٢٣٤٥٦٧٨٩";
const asciiDigits = (text) =>
  text.replace(/[۰-۹]/g, (d) => PERSIAN.indexOf(d)).replace(/[٠-٩]/g, (d) => ARABIC.indexOf(d));
const persianDigits = (text) => String(text).replace(/[0-9]/g, (d) => PERSIAN[d]);
const rials = (amount) => persianDigits(Number(amount).toLocaleString("en-US").replace(/,/g, "٬")) + " ریال";

function nationalCodeValid(code) {
  if (!/^[0-9]{10}$/.test(code) || /^(\d)\1{9}$/.test(code)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(code[i]) * (10 - i);
  const remainder = sum % 11;
  const check = remainder < 2 ? remainder : 11 - remainder;
  return check === Number(code[9]);
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("charge-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const service = $("service"), serviceCode = $("service-code"), results = $("service-results");
  const chosen = $("service-chosen"), quantity = $("quantity"), extrasBox = $("extras");
  const amount = $("amount"), amountHint = $("amount-hint"), quoteLines = $("quote-lines");
  const nationalCode = $("national-code"), nationalCheck = $("national-code-check"), mobile = $("mobile");
  let cap = null, amountTyped = false, searchTimer = null, sent = false;

  amount.dataset.hint = amountHint.textContent;

  function showResults(found) {
    results.replaceChildren(
      ...found.map((item) => {
        const li = document.createElement("li"), button = document.createElement("button");
        button.type = "button";
        button.className = "pick";
        button.dataset.code = item.code;
        button.dataset.name = item.name;
        button.textContent = `${persianDigits(item.code)} — ${item.name}`;
        li.append(button);
        return li;
      })
    );
  }

  async function search() {
    const response = await fetch(`/counter/services?q=${encodeURIComponent(service.value)}`, {
      headers: { Accept: "application/json" },
    });
    if (response.ok) showResults((await response.json()).data);
  }

  function extrasParam() {
    return [...extrasBox.querySelectorAll("input")]
      .map((input) => [input.dataset.code, Number(asciiDigits(input.value) || 0)])
      .filter(([, count]) => count > 0)
      .map(([code, count]) => `${code}:${count}`)
      .join(",");
  }

  function showExtras(offered) {
    extrasBox.replaceChildren(
      ...offered.map((extra) => {
        const div = document.createElement("div"), label = document.createElement("label");
        const input = document.createElement("input");
        div.className = "field";
        input.id = `extra-${extra.code}`;
        input.name = `extra_${extra.code}`;
        input.dataset.code = extra.code;
        input.inputMode = "numeric";
        input.value = "0";
        label.htmlFor = input.id;
        label.textContent = `${extra.name} (هر واحد تا ${rials(extra.unit_cap)})`;
        input.addEventListener("input", refreshQuote);
        div.append(label, input);
        return div;
      })
    );
  }

  function line(term, value) {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    return [dt, dd];
  }

  async function refreshQuote() {
    if (!serviceCode.value) return;
    const count = asciiDigits(quantity.value) || "1";
    const query = new URLSearchParams({ service_code: serviceCode.value, quantity: count, extras: extrasParam() });
    const response = await fetch(`/counter/quote?${query}`, { headers: { Accept: "application/json" } });
    const answer = await response.json();
    if (!response.ok) {
      cap = null;
      quoteLines.replaceChildren(...line("خطا", answer.error.message));
      checkAmount();
      return answer;
    }
    cap = answer.cap;
    $("quote-empty").hidden = true;
    quoteLines.replaceChildren(
      ...line("سهم دستگاه اجرایی", rials(answer.government_share)),
      ...line("سقف کارمزد دفتر", rials(answer.office_fee_cap)),
      ...answer.extras.flatMap((e) => line(`${e.name} (${persianDigits(e.quantity)} عدد)`, rials(e.cap))),
      ...line("سقف کل", rials(answer.cap)),
      ...line("مصوبهٔ تعرفه", answer.approval_reference)
    );
    if (!amountTyped || Number(asciiDigits(amount.value)) > cap) amount.value = String(cap);
    checkAmount();
    return answer;
  }

  async function pick(code, name, moveOn = true) {
    serviceCode.value = code;
    service.value = `${code} — ${name}`;
    chosen.textContent = `خدمت برگزیده: ${persianDigits(code)} — ${name}`;
    results.replaceChildren();
    amountTyped = !moveOn && amount.value !== "";
    const answer = await refreshQuote();
    if (answer && answer.extras_offered) showExtras(answer.extras_offered);
    if (moveOn) {
      quantity.focus();
      quantity.select();
    }
  }

  function checkAmount() {
    const value = Number(asciiDigits(amount.value.replace(/[,٬]/g, "")));
    let problem = "";
    if (!Number.isInteger(value) || value < 1) problem = "مبلغ را به ریال و به عدد وارد کنید.";
    else if (cap !== null && value > cap) problem = `مبلغ از سقف تعرفه (${rials(cap)}) بیشتر است؛ اخذ وجه مازاد ممنوع است.`;
    amount.setCustomValidity(problem);
    amountHint.textContent = problem || amount.dataset.hint;
    amountHint.classList.toggle("error-text", Boolean(problem));
  }

  service.addEventListener("input", () => {
    serviceCode.value = "";
    chosen.textContent = "";
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 120);
  });
  service.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const first = results.querySelector("button.pick");
    if (first) pick(first.dataset.code, first.dataset.name || first.textContent.split(" — ")[1]);
  });
  results.addEventListener("click", (event) => {
    const button = event.target.closest("button.pick");
    if (button) pick(button.dataset.code, button.dataset.name || button.textContent.split(" — ")[1]);
  });
  quantity.addEventListener("input", refreshQuote);
  amount.addEventListener("input", () => {
    amountTyped = true;
    checkAmount();
  });
  nationalCode.addEventListener("input", () => {
    const code = asciiDigits(nationalCode.value).replace(/\D/g, "");
    let message = "";
    if (code.length === 10) message = nationalCodeValid(code) ? "" : "رقم کنترل کد ملی درست نیست.";
    else if (code.length > 0) message = `${persianDigits(10 - code.length)} رقم دیگر`;
    nationalCode.setCustomValidity(code.length === 10 && !message ? "" : message || "کد ملی ۱۰ رقم است.");
    nationalCheck.textContent = code.length === 10 && !message ? "کد ملی درست است." : message;
    nationalCheck.classList.toggle("error-text", code.length === 10 && Boolean(message));
  });
  mobile.addEventListener("input", () => {
    const number = asciiDigits(mobile.value);
    mobile.setCustomValidity(/^09[0-9]{9}$/.test(number) || number.length < 11 ? "" : "شمارهٔ همراه درست نیست.");
  });
  form.addEventListener("submit", (event) => {
    if (sent) {
      event.preventDefault(); // one form, one charge: the server would answer a second send with the first charge
      return;
    }
    sent = true;
    $("send").setAttribute("aria-disabled", "true");
    $("waiting").hidden = false;
  });
  // A form sent back with why it was refused keeps its service, and the amount typed is checked against the cap again.
  if (serviceCode.value) pick(serviceCode.value, service.value.split(" — ")[1] || "", false);
  else if (service.value) search();
});

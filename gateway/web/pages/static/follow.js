// A charge still waiting for the bank's answer: read its page again every few seconds until the answer is known.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  if (document.querySelector("#outcome[data-pending]")) setTimeout(() => window.location.reload(), 3000);
});

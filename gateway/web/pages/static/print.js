// Opens the browser's print dialog for the receipt shown in the frame, as soon as it has loaded.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const frame = document.getElementById("paper");
  if (!frame) return;
  frame.addEventListener("load", () => {
    try {
      frame.contentWindow.focus();
      frame.contentWindow.print();
    } catch (error) {
      window.print(); // the page's print style shows the receipt alone
    }
    document.body.dataset.printed = "requested";
  });
});

// Patient card: the print button, and printing at once when reception opened it to print.
(function () {
  "use strict";
  document.getElementById("print").addEventListener("click", function () { window.print(); });
  if (document.getElementById("card").dataset.autoPrint === "yes") {
    window.addEventListener("load", function () { window.print(); });
  }
})();

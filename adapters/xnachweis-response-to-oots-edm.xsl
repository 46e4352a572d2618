<?xml version="1.0" encoding="UTF-8"?>
<!--
  XNachweis 1.2.0 evidence answer → EU OOTS evidence response (OASIS RegRep 4
  query:QueryResponse, OOTS-EDM 1.0, SDG generic metadata profile): how a
  German evidence provider answers a request from another member state.

  DE.EvidenceResponse.0102 → QueryResponse
    status                             → @status, as it is: Success (with evidence) or
                                         Unavailable (with ResponseAvailableDateTime), the two
                                         an EDM 1.0 evidence response admits; any other status
                                         (PartialSuccess, …) stops the mapping with a message
    @requestid                         → @requestId
    EvidenceResponseIdentifier         → Slot EvidenceResponseIdentifier
    IssueDateTime                      → Slot IssueDateTime
    EvidenceAvailability/ResponseAvailableDateTime → Slot ResponseAvailableDateTime (deferred
                                         answer; rim:RegistryObjectList stays empty)
    EvidenceProvider (each)            → Slot EvidenceProvider / sdg:Agent (Identifier, Name,
                                         Address, Classification)
    EvidenceRequester                  → Slot EvidenceRequester / sdg:Agent (Identifier, Name,
                                         Classification): the one classified ER, else the first
    each RegistryObjectList            → rim:RegistryObject xsi:type="rim:ExtrinsicObjectType"
      id                               → @id
      EvidenceMetadata                 → Slot EvidenceMetadata / sdg:Evidence
        (Identifier = the registry object's UUID, IsAbout, IssuingAuthority,
         IsConformantTo, IssuingDate, Distribution, ValidityPeriod)
      LegalOrNaturalPerson             → IsAbout: the subject's minimum data set
        NaturalPerson: LevelOfAssurance, Identifier (eIDAS), FamilyName, GivenName,
          DateOfBirth, BirthName, PlaceOfBirth, CurrentAdress → CurrentAddress,
          Gender (an eIDAS code: Male, Female, Unspecified; another value stops the mapping)
        LegalPerson: LevelOfAssurance, Identifier (value, schemeID code) → sdg:Identifier
          @schemeID, LegalPersonIdentifier (eIDAS), LegalName, RegisteredAddress
        An address → sdg:AddressType in its order; one without AdminUnitLevel1 (the
        country, which sdg:AddressType requires) stops the mapping with a message.
      RepositoryItem/RepositoryItem    → rim:RepositoryItem (the same base64 document, inline)
      RepositoryItem/RepositoryItemRef → rim:RepositoryItemRef xlink:href/xlink:title
  DE.EvidenceErrorResponse.0103 → QueryResponse status Failure (status must be Failure,
                                         the only one an EDM 1.0 error response admits)
    ErrorProvider                      → Slot ErrorProvider / sdg:Agent (Identifier, Name,
                                         Address, Classification)
    EvidenceRequester                  → Slot EvidenceRequester, as above
    each Exception (Code, Detail, Timestamp) → rs:Exception (@code, @message,
      xsi:type by EDM code, Slot Timestamp)
  Not mapped, on purpose
    IDNr (no meaning and no legal basis abroad), the XÖV header.
    The subject's SectorSpecificAttribute (natural or legal person): IsAbout carries
    the subject's minimum data set for identity matching, which these attributes are
    not part of; they are the request's parameters (here year, purpose, consent
    reference), which the requester has.
    Further EvidenceRequesters (e.g. an intermediary platform beside the requester
    classified ER): an EDM 1.0 response names one requester (rim:AnyValueType, one
    sdg:Agent; EU TDD rules R-EDM-RESP-S022, S027); the others were named in the request.
    The requester's Address: the EDM 1.0 response names the requester by identifier and
    name (R-EDM-RESP-S028); the address is the requester's own, known to it.
    An agent's AnyContent (XNachweis' slot for content of other namespaces):
    sdg:AgentType has no place for it.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:xn-de="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots"
    xmlns:xn-bk="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten"
    xmlns:xn-bdt="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-basisdatentypen"
    xmlns:xn-eu-edm="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-eu-edm"
    xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0"
    xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:4.0"
    xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:4.0"
    xmlns:sdg="http://data.europa.eu/p4s"
    xmlns:xlink="http://www.w3.org/1999/xlink"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    exclude-result-prefixes="xn-de xn-bk xn-bdt xn-eu-edm">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>
  <xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>
  <xsl:variable name="status-prefix" select="'urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:'"/>

  <xsl:template match="/">
    <xsl:choose>
      <xsl:when test="xn-de:DE.EvidenceResponse.0102">
        <xsl:apply-templates select="xn-de:DE.EvidenceResponse.0102"/>
      </xsl:when>
      <xsl:when test="xn-de:DE.EvidenceErrorResponse.0103">
        <xsl:apply-templates select="xn-de:DE.EvidenceErrorResponse.0103"/>
      </xsl:when>
      <xsl:otherwise>
        <xsl:message terminate="yes">root: expected xn-de:DE.EvidenceResponse.0102 or xn-de:DE.EvidenceErrorResponse.0103</xsl:message>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="common-slots">
    <rim:Slot name="SpecificationIdentifier">
      <rim:SlotValue xsi:type="rim:StringValueType">
        <rim:Value>oots-edm:v1.0</rim:Value>
      </rim:SlotValue>
    </rim:Slot>
    <rim:Slot name="EvidenceResponseIdentifier">
      <rim:SlotValue xsi:type="rim:StringValueType">
        <rim:Value><xsl:value-of select="xn-de:EvidenceResponseIdentifier"/></rim:Value>
      </rim:SlotValue>
    </rim:Slot>
    <rim:Slot name="IssueDateTime">
      <rim:SlotValue xsi:type="rim:DateTimeValueType">
        <rim:Value><xsl:value-of select="xn-de:IssueDateTime"/></rim:Value>
      </rim:SlotValue>
    </rim:Slot>
  </xsl:template>

  <xsl:template match="xn-de:DE.EvidenceResponse.0102">
    <!-- The answer's status is carried as it is, where the EDM 1.0 evidence
         response admits it: Success with the evidence, Unavailable with the
         time the evidence will be ready (a deferred answer). Anything else
         (PartialSuccess, Failure, or a status that contradicts the content)
         is refused rather than passed on as an answer it is not. -->
    <xsl:variable name="status" select="normalize-space(xn-de:status/code)"/>
    <xsl:variable name="available" select="xn-de:EvidenceAvailability/xn-de:ResponseAvailableDateTime"/>
    <xsl:choose>
      <xsl:when test="$status = concat($status-prefix, 'Success') and not($available)"/>
      <xsl:when test="$status = concat($status-prefix, 'Unavailable') and $available"/>
      <xsl:otherwise>
        <xsl:message terminate="yes">status: <xsl:value-of select="$status"/> (the answer <xsl:choose><xsl:when test="$available">has a ResponseAvailableDateTime</xsl:when><xsl:otherwise>carries evidence</xsl:otherwise></xsl:choose>) has no place in an OOTS EDM 1.0 evidence response, which is Success with the evidence or Unavailable with a ResponseAvailableDateTime (deferred)</xsl:message>
      </xsl:otherwise>
    </xsl:choose>
    <query:QueryResponse status="{$status}" requestId="{@requestid}">
      <xsl:call-template name="common-slots"/>
      <xsl:for-each select="$available">
        <rim:Slot name="ResponseAvailableDateTime">
          <rim:SlotValue xsi:type="rim:DateTimeValueType">
            <rim:Value><xsl:value-of select="normalize-space(.)"/></rim:Value>
          </rim:SlotValue>
        </rim:Slot>
      </xsl:for-each>
      <rim:Slot name="EvidenceProvider">
        <rim:SlotValue xsi:type="rim:CollectionValueType">
          <xsl:for-each select="xn-de:EvidenceProvider">
            <rim:Element xsi:type="rim:AnyValueType">
              <xsl:call-template name="agent">
                <xsl:with-param name="address" select="concat('EvidenceProvider[', position(), ']/Address')"/>
              </xsl:call-template>
            </rim:Element>
          </xsl:for-each>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="EvidenceRequester">
        <rim:SlotValue xsi:type="rim:AnyValueType">
          <xsl:call-template name="requester"/>
        </rim:SlotValue>
      </rim:Slot>
      <rim:RegistryObjectList>
        <xsl:apply-templates select="xn-de:EvidenceAvailability/xn-de:RegistryObjectList"/>
      </rim:RegistryObjectList>
    </query:QueryResponse>
  </xsl:template>

  <xsl:template match="xn-de:RegistryObjectList">
    <rim:RegistryObject xsi:type="rim:ExtrinsicObjectType" id="{xn-bk:id}">
      <rim:Slot name="EvidenceMetadata">
        <rim:SlotValue xsi:type="rim:AnyValueType">
          <sdg:Evidence>
            <sdg:Identifier><xsl:value-of select="substring-after(xn-bk:id, 'urn:uuid:')"/></sdg:Identifier>
            <xsl:variable name="subject" select="concat('EvidenceAvailability/RegistryObjectList[', count(preceding-sibling::xn-de:RegistryObjectList) + 1, ']/LegalOrNaturalPerson/')"/>
            <sdg:IsAbout>
              <!-- The subject's minimum data set (eIDAS MDS, mandatory and
                   optional), so that the requester can match the identity. -->
              <xsl:for-each select="xn-bk:LegalOrNaturalPerson/xn-bk:NaturalPerson">
                <sdg:NaturalPerson>
                  <sdg:LevelOfAssurance><xsl:value-of select="xn-bk:LevelOfAssurance/code"/></sdg:LevelOfAssurance>
                  <xsl:if test="xn-bk:Identifier">
                    <sdg:Identifier schemeID="eidas"><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
                  </xsl:if>
                  <sdg:FamilyName><xsl:value-of select="xn-bk:FamilyName"/></sdg:FamilyName>
                  <sdg:GivenName><xsl:value-of select="xn-bk:GivenName"/></sdg:GivenName>
                  <sdg:DateOfBirth><xsl:value-of select="xn-bk:DateOfBirth"/></sdg:DateOfBirth>
                  <xsl:for-each select="xn-bk:BirthName">
                    <sdg:BirthName><xsl:value-of select="."/></sdg:BirthName>
                  </xsl:for-each>
                  <xsl:for-each select="xn-bk:PlaceOfBirth">
                    <sdg:PlaceOfBirth><xsl:value-of select="."/></sdg:PlaceOfBirth>
                  </xsl:for-each>
                  <xsl:for-each select="xn-bk:CurrentAdress">
                    <xsl:call-template name="address">
                      <xsl:with-param name="element" select="'sdg:CurrentAddress'"/>
                      <xsl:with-param name="path" select="concat($subject, 'NaturalPerson/CurrentAdress')"/>
                    </xsl:call-template>
                  </xsl:for-each>
                  <xsl:for-each select="xn-bk:Gender">
                    <xsl:call-template name="gender">
                      <xsl:with-param name="path" select="concat($subject, 'NaturalPerson/Gender')"/>
                    </xsl:call-template>
                  </xsl:for-each>
                </sdg:NaturalPerson>
              </xsl:for-each>
              <xsl:for-each select="xn-bk:LegalOrNaturalPerson/xn-bk:LegalPerson">
                <sdg:LegalPerson>
                  <sdg:LevelOfAssurance><xsl:value-of select="xn-bk:LevelOfAssurance/code"/></sdg:LevelOfAssurance>
                  <xsl:for-each select="xn-bk:Identifier">
                    <sdg:Identifier schemeID="{normalize-space(xn-bdt:schemeID/code)}"><xsl:value-of select="xn-bdt:value"/></sdg:Identifier>
                  </xsl:for-each>
                  <xsl:for-each select="xn-bk:LegalPersonIdentifier">
                    <sdg:LegalPersonIdentifier schemeID="{@schemeID}"><xsl:value-of select="."/></sdg:LegalPersonIdentifier>
                  </xsl:for-each>
                  <sdg:LegalName><xsl:value-of select="xn-bk:LegalName"/></sdg:LegalName>
                  <xsl:for-each select="xn-bk:RegisteredAddress">
                    <xsl:call-template name="address">
                      <xsl:with-param name="element" select="'sdg:RegisteredAddress'"/>
                      <xsl:with-param name="path" select="concat($subject, 'LegalPerson/RegisteredAddress')"/>
                    </xsl:call-template>
                  </xsl:for-each>
                </sdg:LegalPerson>
              </xsl:for-each>
            </sdg:IsAbout>
            <xsl:for-each select="xn-bk:EvidenceMetadata">
              <sdg:IssuingAuthority>
                <sdg:Identifier schemeID="{xn-bk:IssuingAuthority/xn-bk:Identifier/@schemeID}"><xsl:value-of select="xn-bk:IssuingAuthority/xn-bk:Identifier"/></sdg:Identifier>
                <xsl:for-each select="xn-bk:IssuingAuthority/xn-bk:Name">
                  <xsl:call-template name="multilingual">
                    <xsl:with-param name="element" select="'sdg:Name'"/>
                  </xsl:call-template>
                </xsl:for-each>
              </sdg:IssuingAuthority>
              <sdg:IsConformantTo>
                <sdg:EvidenceTypeClassification><xsl:value-of select="xn-bk:IsConformantTo/xn-bk:EvidenceTypeClassification"/></sdg:EvidenceTypeClassification>
                <xsl:for-each select="xn-bk:IsConformantTo/xn-bk:Title">
                  <xsl:call-template name="multilingual">
                    <xsl:with-param name="element" select="'sdg:Title'"/>
                  </xsl:call-template>
                </xsl:for-each>
                <xsl:for-each select="xn-bk:IsConformantTo/xn-bk:Description">
                  <xsl:call-template name="multilingual">
                    <xsl:with-param name="element" select="'sdg:Description'"/>
                  </xsl:call-template>
                </xsl:for-each>
              </sdg:IsConformantTo>
              <sdg:IssuingDate><xsl:value-of select="xn-bk:IssuingDate"/></sdg:IssuingDate>
              <sdg:Distribution>
                <sdg:Format><xsl:value-of select="xn-bk:Distribution/xn-bk:Format/code"/></sdg:Format>
                <xsl:for-each select="xn-bk:Distribution/xn-bk:Language">
                  <sdg:Language><xsl:value-of select="translate(code, $lower, $upper)"/></sdg:Language>
                </xsl:for-each>
                <xsl:for-each select="xn-bk:Distribution/xn-bk:ConformsTo">
                  <sdg:ConformsTo><xsl:value-of select="."/></sdg:ConformsTo>
                </xsl:for-each>
                <xsl:for-each select="xn-bk:Distribution/xn-bk:Transformation">
                  <sdg:Transformation><xsl:value-of select="."/></sdg:Transformation>
                </xsl:for-each>
              </sdg:Distribution>
              <xsl:for-each select="xn-bk:ValidityPeriod">
                <sdg:ValidityPeriod>
                  <sdg:StartDate><xsl:value-of select="xn-bk:StartDate"/></sdg:StartDate>
                  <sdg:EndDate><xsl:value-of select="xn-bk:EndDate"/></sdg:EndDate>
                </sdg:ValidityPeriod>
              </xsl:for-each>
            </xsl:for-each>
          </sdg:Evidence>
        </rim:SlotValue>
      </rim:Slot>
      <xsl:for-each select="xn-bk:RepositoryItem/xn-bk:RepositoryItemRef">
        <rim:RepositoryItemRef xlink:href="{@href}" xlink:title="{@title}"/>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:RepositoryItem/xn-bk:RepositoryItem">
        <rim:RepositoryItem><xsl:value-of select="normalize-space(.)"/></rim:RepositoryItem>
      </xsl:for-each>
    </rim:RegistryObject>
  </xsl:template>

  <xsl:template match="xn-de:DE.EvidenceErrorResponse.0103">
    <xsl:variable name="status" select="normalize-space(xn-de:status/code)"/>
    <xsl:if test="$status != concat($status-prefix, 'Failure')">
      <xsl:message terminate="yes">status: <xsl:value-of select="$status"/> has no place in an OOTS EDM 1.0 error response, which is Failure</xsl:message>
    </xsl:if>
    <query:QueryResponse status="{$status}" requestId="{@requestid}">
      <xsl:call-template name="common-slots"/>
      <rim:Slot name="ErrorProvider">
        <rim:SlotValue xsi:type="rim:AnyValueType">
          <xsl:for-each select="xn-de:ErrorProvider">
            <xsl:call-template name="agent">
              <xsl:with-param name="address" select="'ErrorProvider/Address'"/>
            </xsl:call-template>
          </xsl:for-each>
        </rim:SlotValue>
      </rim:Slot>
      <rim:Slot name="EvidenceRequester">
        <rim:SlotValue xsi:type="rim:AnyValueType">
          <xsl:call-template name="requester"/>
        </rim:SlotValue>
      </rim:Slot>
      <xsl:for-each select="xn-de:Exception">
        <xsl:variable name="code" select="normalize-space(xn-bk:Code/code)"/>
        <rs:Exception code="{$code}" message="{xn-bk:Detail}" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error">
          <xsl:choose>
            <xsl:when test="$code = 'EDM:ERR:0001'"><xsl:attribute name="xsi:type">rs:AuthenticationExceptionType</xsl:attribute></xsl:when>
            <xsl:when test="$code = 'EDM:ERR:0002'"><xsl:attribute name="xsi:type">rs:AuthorizationExceptionType</xsl:attribute></xsl:when>
            <xsl:when test="$code = 'EDM:ERR:0003'"><xsl:attribute name="xsi:type">rs:InvalidRequestExceptionType</xsl:attribute></xsl:when>
            <xsl:when test="$code = 'EDM:ERR:0004'"><xsl:attribute name="xsi:type">rs:ObjectNotFoundExceptionType</xsl:attribute></xsl:when>
            <xsl:when test="$code = 'EDM:ERR:0005'"><xsl:attribute name="xsi:type">rs:TimeoutExceptionType</xsl:attribute></xsl:when>
            <xsl:when test="$code = 'EDM:ERR:0006'"><xsl:attribute name="xsi:type">rs:UnresolvedReferenceExceptionType</xsl:attribute></xsl:when>
          </xsl:choose>
          <xsl:for-each select="xn-bk:Timestamp">
            <rim:Slot name="Timestamp">
              <rim:SlotValue xsi:type="rim:DateTimeValueType">
                <rim:Value><xsl:value-of select="."/></rim:Value>
              </rim:SlotValue>
            </rim:Slot>
          </xsl:for-each>
        </rs:Exception>
      </xsl:for-each>
    </query:QueryResponse>
  </xsl:template>

  <!-- The one requester an EDM 1.0 response names (Slot EvidenceRequester:
       rim:AnyValueType, one sdg:Agent): the requester classified ER, else the
       first. -->
  <xsl:template name="requester">
    <xsl:variable name="er" select="xn-de:EvidenceRequester[normalize-space(xn-eu-edm:Classification/code) = 'ER']"/>
    <xsl:choose>
      <xsl:when test="$er">
        <xsl:for-each select="$er[1]">
          <xsl:call-template name="agent"/>
        </xsl:for-each>
      </xsl:when>
      <xsl:otherwise>
        <xsl:for-each select="xn-de:EvidenceRequester[1]">
          <xsl:call-template name="agent"/>
        </xsl:for-each>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- An XNachweis agent (AgentType_NOOTS) as an SDG agent; with its
       address where $address (the address's path, for messages) is given. -->
  <xsl:template name="agent">
    <xsl:param name="address"/>
    <sdg:Agent>
      <sdg:Identifier schemeID="{xn-bk:Identifier/@schemeID}"><xsl:value-of select="xn-bk:Identifier"/></sdg:Identifier>
      <xsl:for-each select="xn-bk:Name">
        <xsl:call-template name="multilingual">
          <xsl:with-param name="element" select="'sdg:Name'"/>
        </xsl:call-template>
      </xsl:for-each>
      <xsl:if test="$address">
        <xsl:for-each select="xn-eu-edm:Address">
          <xsl:call-template name="address">
            <xsl:with-param name="element" select="'sdg:Address'"/>
            <xsl:with-param name="path" select="$address"/>
          </xsl:call-template>
        </xsl:for-each>
      </xsl:if>
      <sdg:Classification><xsl:value-of select="xn-eu-edm:Classification/code"/></sdg:Classification>
    </sdg:Agent>
  </xsl:template>

  <!-- An XNachweis address (xn-bk:AddressType) as an SDG address
       (sdg:AddressType: its own element order, the country required). An
       address without a country stops the mapping: the gateway does not
       guess one, nor drop the address without saying so. -->
  <xsl:template name="address">
    <xsl:param name="element"/>
    <xsl:param name="path"/>
    <xsl:variable name="country" select="normalize-space(xn-bk:AdminUnitLevel1/code)"/>
    <xsl:if test="$country = ''">
      <xsl:message terminate="yes"><xsl:value-of select="$path"/>/AdminUnitLevel1: missing; an OOTS EDM address (sdg:AddressType) requires the country, and the mapping does not guess it</xsl:message>
    </xsl:if>
    <xsl:element name="{$element}" namespace="http://data.europa.eu/p4s">
      <xsl:for-each select="xn-bk:FullAddress">
        <sdg:FullAddress><xsl:value-of select="."/></sdg:FullAddress>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:LocatorDesignator">
        <sdg:LocatorDesignator><xsl:value-of select="."/></sdg:LocatorDesignator>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:PostCode">
        <sdg:PostCode><xsl:value-of select="."/></sdg:PostCode>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:PostCityName">
        <sdg:PostCityName><xsl:value-of select="."/></sdg:PostCityName>
      </xsl:for-each>
      <xsl:for-each select="xn-bk:Thoroughfare">
        <sdg:Thoroughfare><xsl:value-of select="."/></sdg:Thoroughfare>
      </xsl:for-each>
      <sdg:AdminUnitLevel1><xsl:value-of select="$country"/></sdg:AdminUnitLevel1>
      <xsl:for-each select="xn-bk:AdminUnitLevel2">
        <sdg:AdminUnitLevel2><xsl:value-of select="normalize-space(code)"/></sdg:AdminUnitLevel2>
      </xsl:for-each>
    </xsl:element>
  </xsl:template>

  <!-- XNachweis Gender (free text) as sdg:Gender, which admits the eIDAS
       codes only. Another value stops the mapping (without repeating it:
       error texts carry no personal data). -->
  <xsl:template name="gender">
    <xsl:param name="path"/>
    <xsl:variable name="gender" select="normalize-space(.)"/>
    <xsl:if test="not($gender = 'Male' or $gender = 'Female' or $gender = 'Unspecified')">
      <xsl:message terminate="yes"><xsl:value-of select="$path"/>: not an eIDAS gender code (Male, Female, Unspecified), the only values sdg:Gender admits</xsl:message>
    </xsl:if>
    <sdg:Gender><xsl:value-of select="$gender"/></sdg:Gender>
  </xsl:template>

  <!-- xn-bdt:String.Multilingual (value + lang code) as sdg:MultilingualStringType. -->
  <xsl:template name="multilingual">
    <xsl:param name="element"/>
    <xsl:element name="{$element}" namespace="http://data.europa.eu/p4s">
      <xsl:attribute name="lang">
        <xsl:value-of select="translate(xn-bdt:lang/code, $lower, $upper)"/>
      </xsl:attribute>
      <xsl:value-of select="xn-bdt:value"/>
    </xsl:element>
  </xsl:template>
</xsl:stylesheet>
